"""Inputs a real lab sends, through the real Snakemake CLI: each is read exactly or refused before any job
with a message naming the cause (never a traceback), nothing partial left behind; results are rerun on a
changed input even when its mtime is old; one results folder serves one run at a time.

Real data: a 300-gene slice of the shipped DLPC matrix and its sheet, each made bad in one place."""
from __future__ import annotations

import gzip
import json
import os
import socket

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import DLPC_SHEET, REPO, dlpc_dataset, files_under, run_snakemake, write_config


def refused(tmp_path, dataset: dict, *needles: str) -> str:
    """The CLI stops with every needle in its output, no traceback shown, nothing under results/."""
    cfg = write_config(tmp_path, {"dlpc_liver": dataset})
    proc = run_snakemake(tmp_path, cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out[-3000:]}"
    assert "Traceback (most recent call last)" not in out, out[-3000:]
    assert files_under(tmp_path / "results") == [], "partial outputs left behind"
    return out


def write_text_matrix(text: str, path) -> str:
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return str(path)


def tiny_ingest(tmp_path, tiny):
    """Config and target of the ingest job alone on the tiny slice (own sheet, so it can be edited)."""
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(DLPC_SHEET.read_text())
    counts = tmp_path / "counts.tsv.gz"
    with gzip.open(counts, "wt") as fh:
        tiny.to_csv(fh, sep="\t")
    cfg = write_config(tmp_path, {"dlpc_liver": dlpc_dataset(counts, sheet)}, report=False)
    return cfg, sheet, str(tmp_path / "results/dlpc_liver/counts.h5ad")


def nfcore_salmon(tiny: pd.DataFrame, symbols: pd.Series) -> pd.DataFrame:
    """SYNTHETIC nf-core/rnaseq-shaped ``salmon.merged.gene_counts.tsv``: the real DLPC counts with a
    ``gene_name`` column and small fractional parts (salmon estimates), columns as nf-core writes them."""
    rng = np.random.default_rng(0)
    frac = rng.uniform(-0.3, 0.3, tiny.shape) * (tiny.to_numpy() > 0)
    est = pd.DataFrame(np.round(tiny.to_numpy() + frac, 3), index=tiny.index, columns=tiny.columns)
    est.insert(0, "gene_name", symbols.reindex(tiny.index.str.replace(r"\.\d+$", "", regex=True)).fillna("").to_numpy())
    return est.rename_axis("gene_id").reset_index()


def test_number_levels_must_be_declared(tmp_path, tiny):
    """A design column of numbers (age 3, 6, 9 ...) is never silently made levels."""
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    sheet["age"] = [str(3 * (i % 4 + 1)) for i in range(len(sheet))]
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    counts = tmp_path / "counts.tsv.gz"
    with gzip.open(counts, "wt") as fh:
        tiny.to_csv(fh, sep="\t")
    spec = dlpc_dataset(counts, tmp_path / "sheet.tsv", design="~ age + Group")
    refused(tmp_path, spec, "design column 'age'", "holds numbers (3, 6, 9, 12)", "'numeric: [age]'",
            "'categorical: [age]'")


def test_gene_id_column_second_names_the_cause(tmp_path, tiny):
    """The id column moved behind a sample: not a rename hint pairing 'Feature' with a sample."""
    moved = tiny.reset_index()
    cols = list(moved.columns)
    moved = moved[[cols[1], cols[0], *cols[2:]]]
    path = write_text_matrix(moved.to_csv(sep="\t", index=False), tmp_path / "counts.tsv.gz")
    out = refused(tmp_path, dlpc_dataset(path), "column 2 ('Feature') holds text, not counts",
                  "The gene ids must be the first column")
    assert "samples.rename" not in out


def test_trailing_tabs_name_the_cause(tmp_path, tiny):
    text = tiny.to_csv(sep="\t")
    lines = text.splitlines()
    text = "\n".join([lines[0], *(line + "\t" for line in lines[1:])]) + "\n"
    path = write_text_matrix(text, tmp_path / "counts.tsv.gz")
    out = refused(tmp_path, dlpc_dataset(path), "line 2 has 22 fields but the header has 21",
                  "the data rows end with a tab")
    assert "duplicated gene ids" not in out


def test_gene_id_with_trailing_space_is_shown(tmp_path, tiny):
    bad = tiny.copy()
    bad.index = [f"{g} " if i == 5 else g for i, g in enumerate(bad.index)]
    path = tmp_path / "counts.tsv.gz"
    with gzip.open(path, "wt") as fh:
        bad.to_csv(fh, sep="\t")
    refused(tmp_path, dlpc_dataset(path), f"gene id {bad.index[5]!r} (line 7) has leading or trailing whitespace")


def test_changed_sheet_with_old_mtime_reruns(tmp_path, tiny):
    """`cp -p` / `rsync -a` of an edited sheet keeps an old mtime; the content decides."""
    cfg, sheet, target = tiny_ingest(tmp_path, tiny)
    first = run_snakemake(tmp_path, cfg, target)
    assert first.returncode == 0, first.stderr[-3000:]
    old = os.stat(sheet)
    again = run_snakemake(tmp_path, cfg, target, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr
    lines = sheet.read_text().splitlines()
    a, b = lines[1].split("\t"), lines[2].split("\t")  # swap two samples' groups: same size, other content
    lines[1], lines[2] = "\t".join([a[0], b[1]]), "\t".join([b[0], a[1]])
    assert a[1] != b[1]
    sheet.write_text("\n".join(lines) + "\n")
    os.utime(sheet, ns=(old.st_atime_ns, old.st_mtime_ns))  # as cp -p would leave it: the old mtime
    rerun = run_snakemake(tmp_path, cfg, target, "--dry-run")
    out = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0 and "rule ingest:" in out and "Params have changed" in out, out[-3000:]


def test_one_results_folder_one_run(tmp_path, tiny):
    """A second run on a results folder in use stops at once naming the holder; a lock left by a killed run
    is explained and cleared by --unlock (make unlock); finished outputs are never touched."""
    cfg, sheet, target = tiny_ingest(tmp_path, tiny)
    finished = run_snakemake(tmp_path, cfg, target)
    assert finished.returncode == 0, finished.stderr[-3000:]
    before = {p: p.stat().st_mtime_ns for p in files_under(tmp_path / "results")}
    lock = tmp_path / "results/.lsecflow.lock"
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "workdir": "/somewhere/else",
              "started": "2026-12-01T20:00:00"}
    lock.write_text(json.dumps(holder))
    sheet.write_text(sheet.read_text() + "\n")  # something to do, so the run would start jobs
    other = tmp_path / "other"
    other.mkdir()
    conf = yaml.safe_load(cfg.read_text())
    other_cfg = other / "config.yaml"
    other_cfg.write_text(yaml.safe_dump(conf))  # same absolute results folder, another working folder
    busy = run_snakemake(other, other_cfg, target)
    out = busy.stdout + busy.stderr
    assert busy.returncode != 0 and "is locked" in out and f"process {os.getpid()}" in out and "/somewhere/else" in out
    assert "Traceback (most recent call last)" not in out
    assert {p: p.stat().st_mtime_ns for p in files_under(tmp_path / "results") if p != lock} == before
    holder["pid"] = 2 ** 22 + 12345  # no such process: a run that was killed
    lock.write_text(json.dumps(holder))
    stale = run_snakemake(other, other_cfg, target)
    assert stale.returncode != 0 and "no longer running" in stale.stdout + stale.stderr
    unlock = run_snakemake(other, other_cfg, "--unlock")
    assert unlock.returncode == 0 and "removed the lock" in unlock.stdout + unlock.stderr
    assert not lock.exists()
    resumed = run_snakemake(other, other_cfg, target)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not lock.exists()  # released at the end


def test_gmt_without_overlap_is_a_warning_in_log_and_report(finished_run):
    """The shared run's DLPC carries a user GMT of olfactory receptors, none expressed (helpers.small_config)."""
    work, _, _ = finished_run
    log_text = (work / "logs/enrichment/dlpc_liver/disease_vs_chow.log").read_text()
    assert "WARNING" in log_text and "olfactory" in log_text and "no gene set can be tested: none of its 6 genes" \
        in log_text and "The dataset is mouse" in log_text
    html = (work / "results/report.html").read_text()
    assert "no set could be tested: none of its 6 genes is in the data" in html


def test_a_folder_not_writable_is_one_message_with_the_traceback_in_the_log(tmp_path, capsys):
    """What a job prints when it cannot write (a read-only results subfolder, a full disk): one line naming
    the file and the cause; the traceback only in the job's log. (Simulated with the error the writer would
    get: the tests run as root, for whom a read-only folder is writable.)"""
    from types import SimpleNamespace

    from lsecflow.snake import run

    log = tmp_path / "job.log"
    job = SimpleNamespace(log=[str(log)], rule="qc_bulk")

    def writes_into_a_read_only_folder():
        raise PermissionError(13, "Permission denied", str(tmp_path / "results/qc/.samples.tsv.tmp"))

    with pytest.raises(SystemExit) as exc:
        run(job, writes_into_a_read_only_folder)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "cannot read or write" in err and "results/qc/.samples.tsv.tmp: Permission denied" in err
    assert "Traceback" not in err
    assert "Traceback (most recent call last)" in log.read_text()


def test_nfcore_salmon_matrix_and_a_lab_sheet_give_the_tsv_routes_de(tmp_path, tiny):
    """The DLPC sheet as a lab sends it (CSV, BOM, CRLF, id column 'sample_id') and an nf-core salmon matrix
    (estimated counts, gene_name): refused without counts.round (the message names it); with it, the DE tables
    equal the TSV route's on the rounded counts, and the symbols are the matrix's own."""
    from lsecflow.annotation import load_symbol_table

    symbols = load_symbol_table(REPO / "resources/annotation/mouse.gene_symbols.tsv.gz")
    salmon = nfcore_salmon(tiny, symbols)
    nf = tmp_path / "nf"
    nf.mkdir()
    salmon.to_csv(nf / "salmon.merged.gene_counts.tsv", sep="\t", index=False)
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str).rename(columns={"sample": "sample_id"})
    (nf / "samples.csv").write_bytes(("\ufeff" + sheet.to_csv(index=False, lineterminator="\r\n")).encode())
    spec = dlpc_dataset(nf / "salmon.merged.gene_counts.tsv", nf / "samples.csv")
    spec["samples"]["id_column"] = "sample_id"
    spec["paracrine"] = {"enabled": False}
    refusal = refused(nf, dict(spec), "is not an integer", "counts.round: true")
    assert "gene_name" not in refusal.split("is not an integer")[0][-200:]  # a count named, not the name column
    spec["counts"]["round"] = True
    cfg_nf = write_config(nf, {"dlpc_liver": spec}, report=False)
    # the TSV route: the same counts, rounded, as a plain matrix with the shipped sheet
    tsv = tmp_path / "tsv"
    tsv.mkdir()
    rounded = salmon.drop(columns="gene_name").set_index("gene_id").round().astype(int)
    rounded.to_csv(tsv / "counts.tsv", sep="\t")
    cfg_tsv = write_config(tsv, {"dlpc_liver": dict(dlpc_dataset(tsv / "counts.tsv"), paracrine={"enabled": False})},
                           report=False)
    tables = {}
    for name, folder, cfg in (("nf", nf, cfg_nf), ("tsv", tsv, cfg_tsv)):
        target = str(folder / "results/dlpc_liver/de/disease_vs_chow.tsv")
        proc = run_snakemake(folder, cfg, target)
        assert proc.returncode == 0, proc.stderr[-3000:]
        tables[name] = pd.read_csv(target, sep="\t")
    assert "non-integer values (estimated counts) rounded" in (nf / "logs/ingest/dlpc_liver.log").read_text()
    cols = [c for c in tables["tsv"].columns if c != "symbol"]
    pd.testing.assert_frame_equal(tables["nf"][cols], tables["tsv"][cols])
    named = salmon.set_index("gene_id")["gene_name"]
    got = tables["nf"].set_index("gene_id")["symbol"]
    assert (got == named.reindex(got.index)).mean() > 0.95  # the matrix's names (duplicates get _<id>)


def test_a_finished_run_copied_elsewhere_plans_nothing(tmp_path, tiny):
    """Relocatable runs: the run folder (config, sheet, counts, results, .snakemake) copied with its
    timestamps to another place has nothing to do there -- no absolute path in rule inputs or parameters."""
    import shutil

    run = tmp_path / "run"
    run.mkdir()
    (run / "sheet.tsv").write_text(DLPC_SHEET.read_text())
    with gzip.open(run / "counts.tsv.gz", "wt") as fh:
        tiny.to_csv(fh, sep="\t")
    spec = dlpc_dataset(run / "counts.tsv.gz", run / "sheet.tsv", paracrine={"enabled": False})
    spec["counts"]["path"], spec["samples"]["sheet"] = "counts.tsv.gz", "sheet.tsv"  # relative to the run folder
    (run / "config.yaml").write_text(yaml.safe_dump({"results": "results", "report": False,
                                                     "datasets": {"dlpc_liver": spec}}))
    target = "results/dlpc_liver/de/disease_vs_chow.tsv"
    first = run_snakemake(run, run / "config.yaml", target)
    assert first.returncode == 0, first.stderr[-3000:]
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, moved, symlinks=True)  # copy2: timestamps kept
    again = run_snakemake(moved, moved / "config.yaml", target, "--dry-run")
    out = again.stdout + again.stderr
    assert again.returncode == 0 and "Nothing to be done" in out, out[-3000:]


def test_changed_matrix_and_gmt_with_old_mtime_rerun(tmp_path, tiny):
    """As for the sheet: a count matrix and a user GMT replaced by edited copies with their old mtimes rerun
    what reads them (ingest; enrichment) -- the content decides, through each rule's parameters."""
    counts = tmp_path / "counts.tsv.gz"
    with gzip.open(counts, "wt") as fh:
        tiny.to_csv(fh, sep="\t")
    gmt = tmp_path / "mine.gmt"
    gmt.write_text("LIVER_SECRETED\tuser\tAlb\tApoa1\tApoa2\tApoc3\tApoe\tTtr\tSerpina1a\tFgb\n")
    spec = dlpc_dataset(counts, paracrine={"enabled": False},
                        enrichment={"collections": ["lsec_tnf_axis"], "gmt": {"mine": str(gmt)}, "permutations": 200,
                                    "size_limits": {"lsec_tnf_axis": [1, 500], "mine": [1, 500]}})
    cfg = write_config(tmp_path, {"dlpc_liver": spec}, report=False)
    target = str(tmp_path / "results/dlpc_liver/enrichment/disease_vs_chow/mine.gsea.tsv")
    first = run_snakemake(tmp_path, cfg, target)
    assert first.returncode == 0, first.stderr[-3000:]
    for path, rule in ((gmt, "enrichment_dlpc_liver"), (counts, "ingest")):
        old = os.stat(path)
        if path == gmt:
            path.write_text(path.read_text().replace("Fgb", "Fga"))
        else:
            edited = tiny.copy()
            edited.iloc[0, 0] += 1
            with gzip.open(path, "wt") as fh:
                edited.to_csv(fh, sep="\t")
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
        plan = run_snakemake(tmp_path, cfg, target, "--dry-run")
        out = plan.stdout + plan.stderr
        assert plan.returncode == 0 and f"rule {rule}:" in out and "Params have changed" in out, out[-3000:]
        if path == gmt:  # the GMT: enrichment only, not ingest or DE
            assert "rule ingest:" not in out and "rule de_dlpc_liver:" not in out, out[-3000:]
