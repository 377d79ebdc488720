"""Bad input: a clear message naming the culprit, a non-zero exit, no
partial outputs. Every case is real data made bad in one place (the change
is described in each test); problems caught at parse time are checked
through load_config, those the ingest job catches through its function
(run_ingest), and a few of each kind through the real Snakemake CLI, where
the message must reach the user and the failed job leave nothing behind
(see expect_failure)."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import DLPC_SHEET, REPO, dlpc_dataset, files_under, run_snakemake, tms_dataset, write_config
from lsecflow.config import load_config
from lsecflow.errors import LsecflowError
from lsecflow.ingest import run_ingest
from lsecflow.rule_params import guard_params


def write_tsv(df: pd.DataFrame, path) -> str:
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, sep="\t")
    return str(path)


def expect_failure(tmp_path, dataset: dict, *needles: str, name: str = "dlpc_liver", cli: bool = False):
    """The run must stop with every needle in its message and leave no output.

    A problem the workflow catches at parse time is tested through ``load_config`` (what the Snakefile
    calls before any job), one the ingest job catches (it reads every count) through ``run_ingest`` with
    the parameters the rule passes it (an :class:`LsecflowError` naming the culprit, no output file): both
    quick. ``cli=True`` runs the real Snakemake CLI instead (the message as a user sees it): non-zero exit,
    the message in its output or the job's log, nothing under results/. The CLI's handling of a job's
    error is one code path (``lsecflow.snake.run``, then Snakemake removes the job's outputs); the tests
    marked ``cli=True`` keep it covered for ingest's errors, a parse-time error and an unreadable file.
    A problem neither catches (a later job's) goes through the CLI too.
    """
    cfg = write_config(tmp_path, {name: dataset})

    def stopped(exc: LsecflowError, where: str) -> str:
        for needle in needles:
            assert needle in str(exc), f"{needle!r} not in the {where} error:\n{exc}"
        assert files_under(tmp_path / "results") == [], f"the {where} check left files behind"
        return str(exc)

    if not cli:
        try:
            config = load_config(yaml.safe_load(cfg.read_text()), roots=[tmp_path, REPO], source=str(cfg))
        except LsecflowError as exc:
            return stopped(exc, "parse-time")
        try:
            run_ingest(guard_params(config.datasets[name].params(rule="ingest")),
                       str(tmp_path / "results" / name / "counts.h5ad"))
        except LsecflowError as exc:
            return stopped(exc, "ingest job's")
        shutil.rmtree(tmp_path / "results")
    proc = run_snakemake(tmp_path, cfg)
    out = proc.stdout + proc.stderr
    log_text = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log")) if (tmp_path / "logs").exists() else ""
    assert proc.returncode != 0, out
    for needle in needles:
        assert needle in out + log_text, f"{needle!r} not in output:\n{out[-3000:]}\n{log_text[-2000:]}"
    assert files_under(tmp_path / "results") == [], "partial outputs left behind"
    return out + log_text


def test_dlpc_without_rename_names_both_ids(tmp_path, tiny):
    # the published matrix as is (Sample724), the config without the rename
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["samples"]["rename"] = {}
    out = expect_failure(tmp_path, spec, "Sample724", "Sample725", "samples.rename", cli=True)
    assert "in the matrix, not in the sheet: Sample724" in out
    assert "in the sheet, not in the matrix: Sample725" in out


def test_non_integer_count(tmp_path, tiny):
    bad = tiny.astype(float)
    gene = bad.index[5]
    bad.loc[gene, "Sample745"] = 12.5
    expect_failure(tmp_path, dlpc_dataset(write_tsv(bad, tmp_path / "c.tsv.gz")),
                   "Sample745", gene, "not an integer")


def test_negative_count(tmp_path, tiny):
    bad = tiny.copy()
    gene = bad.index[7]
    bad.loc[gene, "Sample720"] = -3
    expect_failure(tmp_path, dlpc_dataset(write_tsv(bad, tmp_path / "c.tsv.gz")), "Sample720", gene, "negative")


def test_nan_count(tmp_path, tiny):
    bad = tiny.astype(float)
    gene = bad.index[9]
    bad.loc[gene, "Sample726"] = np.nan
    expect_failure(tmp_path, dlpc_dataset(write_tsv(bad, tmp_path / "c.tsv.gz")), "Sample726", gene, "NaN", cli=True)


def test_non_numeric_count(tmp_path, tiny):
    bad = tiny.astype(object)
    gene = bad.index[3]
    bad.loc[gene, "Sample735"] = "twelve"
    expect_failure(tmp_path, dlpc_dataset(write_tsv(bad, tmp_path / "c.tsv.gz")), "Sample735", gene, "'twelve'")


def test_duplicated_gene_ids(tmp_path, tiny):
    bad = pd.concat([tiny, tiny.iloc[[4]]])
    expect_failure(tmp_path, dlpc_dataset(write_tsv(bad, tmp_path / "c.tsv.gz")), "duplicated gene ids",
                   tiny.index[4])


def test_duplicated_sample_ids_in_matrix(tmp_path, tiny):
    path = tmp_path / "c.tsv"
    text = tiny.to_csv(sep="\t").replace("Sample726", "Sample720", 1)
    path.write_text(text)
    expect_failure(tmp_path, dlpc_dataset(path), "duplicated sample ids", "Sample720")


def test_duplicated_sample_ids_in_sheet(tmp_path, tiny):
    sheet = pd.read_csv(DLPC_SHEET, sep="\t")
    sheet = pd.concat([sheet, sheet.iloc[[3]]])
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    expect_failure(tmp_path, dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), tmp_path / "s.tsv"),
                   "duplicated sample ids", "Sample735", "column 'sample'")


def test_missing_sample_column(tmp_path, tiny):
    sheet = pd.read_csv(DLPC_SHEET, sep="\t").rename(columns={"sample": "Sample"})
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    expect_failure(tmp_path, dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), tmp_path / "s.tsv"),
                   "the sample id column 'sample' is missing", "s.tsv", "samples.id_column")


def test_missing_design_column(tmp_path, tiny):
    sheet = pd.read_csv(DLPC_SHEET, sep="\t").rename(columns={"Group": "group"})
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    expect_failure(tmp_path, dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), tmp_path / "s.tsv"),
                   "column 'Group'", "not in the sample sheet", "key 'design'")


def test_empty_counts_file(tmp_path):
    (tmp_path / "c.tsv").write_text("")
    expect_failure(tmp_path, dlpc_dataset(tmp_path / "c.tsv"), "c.tsv", "file is empty")


def test_empty_sample_sheet(tmp_path, tiny):
    (tmp_path / "s.tsv").write_text("")
    expect_failure(tmp_path, dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), tmp_path / "s.tsv"),
                   "s.tsv", "file is empty")


def test_unknown_format(tmp_path, tiny):
    (tmp_path / "c.parquet").write_bytes(b"PAR1 not read by lsecflow")
    expect_failure(tmp_path, dlpc_dataset(tmp_path / "c.parquet"), "c.parquet", "unknown count-matrix format",
                   "counts.format")


def xlsx(table: pd.DataFrame, path: Path) -> Path:
    """``table`` as a minimal Office Open XML workbook (the parts a reader needs; one sheet, inline strings)."""
    import zipfile
    from xml.sax.saxutils import escape

    def row(i, values):
        cells = "".join(f'<c r="{chr(65 + j)}{i}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'
                        for j, v in enumerate(values))
        return f'<row r="{i}">{cells}</row>'

    rows = [row(1, table.columns)] + [row(i + 2, r) for i, r in enumerate(table.itertuples(index=False))]
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="samples" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        '</Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{"".join(rows)}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            z.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + xml)
    return path


@pytest.mark.parametrize("name, needle", [("samples.xlsx", "is a spreadsheet workbook, not a text table"),
                                          ("samples.csv", "is a zip archive (as an .xlsx workbook is)")])
def test_a_workbook_says_how_to_save_it_as_text(tmp_path, tiny, name, needle):
    """The DLPC sheet as the workbook Excel saves (and the same bytes named .csv, as a renamed download): refused
    at parse time, naming the file and the spreadsheet's own menu entries, never read cell by cell (a
    spreadsheet's types would reach the design); a count matrix saved as a workbook likewise."""
    sheet = xlsx(pd.read_csv(DLPC_SHEET, sep="\t", dtype=str), tmp_path / name)
    counts = write_tsv(tiny, tmp_path / "c.tsv.gz")
    expect_failure(tmp_path, dlpc_dataset(counts, sheet), f"sample sheet {sheet}", needle, "'CSV UTF-8 (.csv)'")
    matrix = xlsx(tiny.reset_index(), tmp_path / "counts.xlsx")
    expect_failure(tmp_path, dlpc_dataset(matrix), "counts.path", str(matrix), "is a spreadsheet workbook")


def test_reference_level_absent(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["contrasts"]["disease_vs_chow"]["reference"] = "chow"
    expect_failure(tmp_path, spec, "contrasts.disease_vs_chow.reference", "'chow'", "Chow, Disease, Disease/Agonist")


def test_target_level_absent(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["contrasts"]["agonist_vs_chow"]["target"] = "Agonist"
    expect_failure(tmp_path, spec, "contrasts.agonist_vs_chow.target", "'Agonist'")


def test_normalised_single_cell_matrix(tmp_path):
    adata = ad.read_h5ad(tms_dataset()["counts"]["path"])
    import scanpy as sc

    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    adata.write_h5ad(tmp_path / "norm.h5ad")
    expect_failure(tmp_path, tms_dataset(tmp_path / "norm.h5ad"), "norm.h5ad", "normalised or log-transformed",
                   "cell 'A16_B000767_B009945_S16.mm10-plus-4-0'", name="tms_liver", cli=True)


def test_all_zero_sample(tmp_path, tiny):
    bad = tiny.copy()
    bad["Sample746"] = 0
    expect_failure(tmp_path, dlpc_dataset(write_tsv(bad, tmp_path / "c.tsv.gz")), "Sample746", "zero counts")


def test_wrong_gene_id_type(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), gene_ids="ensembl")
    expect_failure(tmp_path, spec, "gene_ids: ensembl", "ensembl_version", tiny.index[0])


def test_formula_with_code_is_refused(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), design="~ __import__('os').system('touch PWNED')")
    expect_failure(tmp_path, spec, "key 'design'", "not allowed")
    assert not (tmp_path / "PWNED").exists()


def test_contrast_between_identical_levels(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["contrasts"]["disease_vs_chow"]["target"] = "Chow"
    expect_failure(tmp_path, spec, "contrasts.disease_vs_chow", "same level 'Chow'")


def test_unsafe_contrast_name(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["contrasts"] = {"../escape": spec["contrasts"]["disease_vs_chow"]}
    expect_failure(tmp_path, spec, "contrasts", "../escape", "does not match")


def test_config_key_of_wrong_type(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec.setdefault("de", {})["min_count"] = "ten"
    expect_failure(tmp_path, spec, "key 'de.min_count'", "'ten' is not of type 'integer'")


def test_unknown_config_key(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["desing"] = "~ Group"
    expect_failure(tmp_path, spec, "'desing' was unexpected", "allowed keys")


def test_rename_of_unknown_sample(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["samples"]["rename"] = {"Sample999": "Sample725"}
    expect_failure(tmp_path, spec, "samples.rename", "'Sample999'", "not a sample id")


def test_malformed_gmt_in_config(tmp_path, tiny):
    (tmp_path / "mine.gmt").write_text("MY_SET\tdescription only\n")
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["enrichment"] = {"gmt": {"mine": str(tmp_path / "mine.gmt")}}
    expect_failure(tmp_path, spec, "mine.gmt", "line 1", "key 'enrichment'")


def test_empty_gmt_in_config(tmp_path, tiny):
    (tmp_path / "empty.gmt").write_text("\n")
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["enrichment"] = {"gmt": {"empty": str(tmp_path / "empty.gmt")}}
    expect_failure(tmp_path, spec, "empty.gmt", "empty GMT")


def test_gene_sets_of_the_wrong_species(tmp_path, tiny):
    import shutil

    from helpers import REPO

    shutil.copy(REPO / "resources/genesets/human_h.all.v7.1.symbols.gmt.gz", tmp_path / "hallmark_human.gmt.gz")
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["enrichment"] = {"gmt": {"hallmark_human": str(tmp_path / "hallmark_human.gmt.gz")}}
    expect_failure(tmp_path, spec, "hallmark_human.gmt.gz", "look human", "dataset is mouse")


def test_unknown_collection(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["enrichment"] = {"collections": ["kegg"]}
    expect_failure(tmp_path, spec, "'kegg' is not shipped", "enrichment.gmt")


def test_qc_exclude_of_unknown_sample(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["qc"] = {"exclude": ["Sample999"]}
    expect_failure(tmp_path, spec, "key 'qc.exclude'", "'Sample999'")


def test_results_folder_that_cannot_be_created(tmp_path, tiny):
    (tmp_path / "a_file").write_text("not a folder")
    cfg = write_config(tmp_path, {"dlpc_liver": dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))},
                       results=str(tmp_path / "a_file" / "results"))
    proc = run_snakemake(tmp_path, cfg)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "key 'results'" in out and "a_file exists and is not a folder" in out
    assert not (tmp_path / "logs").exists() and (tmp_path / "a_file").read_text() == "not a folder"


def test_receiver_table_with_non_numeric_values(tmp_path, tiny):
    # a receiver table made from real counts (the 300 genes, Hepa1-6-like name), one value replaced by text
    table = tiny.iloc[:, :3].copy().astype(object)
    table.index = [f"gene{i}" for i in range(len(table))]
    table.index.name = "gene"
    table.iat[4, 1] = "high"
    table.to_csv(tmp_path / "hepa16.tsv", sep="\t")
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["paracrine"] = {"receivers": {"hepa16": str(tmp_path / "hepa16.tsv")}}
    expect_failure(tmp_path, spec, "key 'paracrine.receivers.hepa16'", "hepa16.tsv",
                   f"column {table.columns[1]!r}", "gene 'gene4'", "'high' is not a finite non-negative number")


def test_paracrine_class_unknown(tmp_path, tiny):
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["paracrine"] = {"classes": ["hormone"]}
    expect_failure(tmp_path, spec, "paracrine.classes", "'hormone' is not one of")


def test_figures_block_with_a_misspelt_key(tmp_path, tiny):
    # a dataset's figures: block with a typo in a figure option
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    spec["figures"] = {"volcano": {"label_tops": 5}}
    expect_failure(tmp_path, spec, "key 'figures.volcano'", "'label_tops'", "allowed keys", "label_top")


def test_figures_formats_without_png(tmp_path, tiny):
    # the main config asks for SVG and PDF only (the report needs PNG)
    cfg = write_config(tmp_path, {"dlpc_liver": dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))},
                       figures={"formats": ["svg", "pdf"]})
    with pytest.raises(LsecflowError, match=r"key 'figures.formats': must include png"):
        load_config(yaml.safe_load(cfg.read_text()), roots=[tmp_path, REPO], source=str(cfg))
    assert files_under(tmp_path / "results") == []


# --- design values that would silently make wrong groups (each was exit 0 with fewer reference samples) ---
@pytest.mark.parametrize("edit, needles", [
    # a trailing space: 'Chow ' would be a level of its own
    (lambda s: s.replace("Chow", "Chow ", 1), ["column 'Group'", "'Chow '", "leading/trailing whitespace"]),
    # a case variant: 'chow' next to 'Chow'
    (lambda s: s.replace("Chow", "chow", 1), ["column 'Group'", "differ only in case", "'Chow'", "'chow'"]),
    # NA written by R or a spreadsheet
    (lambda s: s.replace("Chow", "NA", 1), ["column 'Group'", "empty or missing", "'NA'"]),
])
def test_design_values_that_would_split_a_group(tmp_path, tiny, edit, needles):
    sheet = tmp_path / "s.tsv"
    sheet.write_text(edit(DLPC_SHEET.read_text()))
    first = next(line.split("\t")[0] for line in DLPC_SHEET.read_text().splitlines() if "\tChow" in line)
    expect_failure(tmp_path, dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), sheet), *needles, first)


def test_duplicate_key_in_a_dataset_file(tmp_path, tiny):
    # a second `contrasts:` block would silently replace the first
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))
    text = yaml.safe_dump(spec, sort_keys=False)
    text += "contrasts:\n  only_this: {variable: Group, target: Disease, reference: Chow}\n"
    (tmp_path / "d.yaml").write_text(text)
    cfg = write_config(tmp_path, {"dlpc_liver": str(tmp_path / "d.yaml")})
    with pytest.raises(LsecflowError, match=r"d\.yaml: key 'contrasts' appears twice \(lines \d+ and \d+\)"):
        load_config(yaml.safe_load(cfg.read_text()), roots=[tmp_path, REPO], source=str(cfg))


def test_duplicate_key_in_the_config_file(tmp_path, tiny):
    # Snakemake's own YAML reader keeps the last `report:`; lsecflow reads the file again and refuses it
    cfg = write_config(tmp_path, {"dlpc_liver": dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"))})
    cfg.write_text(cfg.read_text() + "report: false\nreport: true\n")
    proc = run_snakemake(tmp_path, cfg, "--dry-run")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "key 'report' appears twice" in out and "config.yaml" in out, out[-2000:]
    assert "Traceback" not in out and files_under(tmp_path / "results") == []


@pytest.mark.parametrize("value", ["18446744073709551615", "1e20", "123456789012345678901234567890"])
def test_count_too_large_to_store(tmp_path, tiny, value):
    # each used to be written into counts.h5ad wrapped (-1, -2**63) or to stop with an IndexError
    path = tmp_path / "c.tsv"
    bad = tiny.astype(object)
    gene = bad.index[9]
    bad.loc[gene, "Sample741"] = value
    bad.to_csv(path, sep="\t")
    out = expect_failure(tmp_path, dlpc_dataset(path), "Sample741", gene, "is larger than 9,007,199,254,740,992")
    assert "Traceback" not in out


@pytest.mark.parametrize("batch, design", [
    # a batch column that mirrors Group: batch and Group effects cannot be told apart
    (lambda sheet: sheet["Group"].map({"Chow": "b1", "Disease": "b2", "Disease/Agonist": "b3"}), "~ batch + Group"),
    # an interaction with a level combination no sample has: every Disease sample is in b1
    (lambda sheet: pd.Series(np.where((sheet["Group"] != "Disease") & (np.arange(len(sheet)) % 2 == 0), "b2", "b1"),
                             index=sheet.index), "~ batch + Group + batch:Group"),
])
def test_design_that_cannot_be_fitted(tmp_path, tiny, batch, design):
    # was a LinAlgError (singular matrix) inside the DE job, after the dry run had passed
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    sheet["batch"] = batch(sheet)
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), tmp_path / "s.tsv", design=design)
    expect_failure(tmp_path, spec, "key 'design'", "cannot be fitted on the 20 samples", "confounded")


def test_design_without_residual_df(tmp_path, tiny):
    """18 batches on 20 samples: one pairs a Chow with a Disease sample, one a Chow with an agonist one, every
    other sample alone. 17 batch coefficients + the intercept + 2 for Group = 20 for 20 samples: full rank (each
    Group effect is seen within a pair) and nothing left to estimate a dispersion from (was a ValueError
    traceback inside the DE job)."""
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    by_group = {g: list(sheet.index[sheet["Group"] == g]) for g in ("Chow", "Disease", "Disease/Agonist")}
    sheet["batch"] = [f"b{i}" for i in range(len(sheet))]
    for pair, (chow, other) in enumerate([(by_group["Chow"][0], by_group["Disease"][0]),
                                          (by_group["Chow"][1], by_group["Disease/Agonist"][0])]):
        sheet.loc[[chow, other], "batch"] = f"pair{pair}"
    assert sheet["batch"].nunique() == 18
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(write_tsv(tiny, tmp_path / "c.tsv.gz"), tmp_path / "s.tsv", design="~ batch + Group")
    expect_failure(tmp_path, spec, "key 'design'", "20 coefficients for the 20 samples", "no residual degrees of freedom")


def test_truncated_gzip_counts(tmp_path, tiny):
    # a cut-off download: the header reads, the rest ends mid-stream (was an EOFError traceback in ingest)
    data = Path(write_tsv(tiny, tmp_path / "full.tsv.gz")).read_bytes()
    (tmp_path / "c.tsv.gz").write_bytes(data[: len(data) // 2])
    out = expect_failure(tmp_path, dlpc_dataset(tmp_path / "c.tsv.gz"), "c.tsv.gz", "cannot be read as a "
                         "tab-separated count matrix", "is the file complete", cli=True)
    assert "Traceback" not in out


def test_binary_file_declared_as_tsv(tmp_path, tiny):
    # an h5ad given with counts.format: tsv (was a UnicodeDecodeError traceback)
    spec = dlpc_dataset(REPO / "resources/data/tms_liver/tms_liver_sample_counts.h5ad")
    spec["counts"]["format"] = "tsv"
    expect_failure(tmp_path, spec, "tms_liver_sample_counts.h5ad", "cannot be read as a tab-separated count matrix",
                   "counts.format")
