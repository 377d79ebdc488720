"""The whole Snakemake workflow, run for real into a temporary folder on a
small config of real data (a 2,000-gene subset of the DLPC matrix and the
full Tabula Muris Senis sample)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import REPO, run_snakemake


def _planned_rules(work, cfg_path) -> tuple[set[str], str]:
    proc = run_snakemake(work, cfg_path, "--dry-run")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return set(re.findall(r"^rule (\w+):", out, flags=re.M)), out


def snakemake_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_counts_h5ad_contents(finished_run, dlpc_small):
    work, _, _ = finished_run
    raw = pd.read_csv(dlpc_small, sep="\t", index_col=0)
    adata = ad.read_h5ad(work / "results/dlpc_liver/counts.h5ad")
    assert adata.shape == (20, len(raw))
    assert np.issubdtype(adata.X.dtype, np.integer)
    assert list(adata.var_names) == list(raw.index)
    np.testing.assert_array_equal(adata["Sample725"].X.ravel(), raw["Sample724"].to_numpy())
    assert {"gene_id", "symbol"} <= set(adata.var.columns) and adata.var["symbol"].is_unique
    assert adata.obs["Group"].value_counts().to_dict() == {"Chow": 7, "Disease": 7, "Disease/Agonist": 6}
    tms = ad.read_h5ad(work / "results/tms_liver/counts.h5ad")
    assert tms.shape == (468, 726)
    assert tms.obs["sample"].nunique() == 16
    assert (tms.obs.loc[tms.obs["sample"] == "B000767", "age_group"] == "OLD").all()


def test_bulk_de_tables(finished_run, dlpc_small):
    work, _, _ = finished_run
    raw = pd.read_csv(dlpc_small, sep="\t", index_col=0)
    n_pass = int(((raw >= 10).sum(axis=1) >= 3).sum())
    sheet = ad.read_h5ad(work / "results/dlpc_liver/counts.h5ad").obs  # the samples the fit saw
    for contrast in ("disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease"):
        table = pd.read_csv(work / f"results/dlpc_liver/de/{contrast}.tsv", sep="\t")
        assert list(table.columns) == ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat",
                                       "pvalue", "padj"]
        assert len(table) == n_pass and table["gene_id"].is_unique
        padj = table["padj"].fillna(np.inf).to_numpy()
        assert (np.diff(padj) >= 0).all(), "not sorted by padj"
        summary = pd.read_csv(work / f"results/dlpc_liver/de/{contrast}.summary.tsv", sep="\t").iloc[0]
        sig = table["padj"] < summary["alpha"]
        assert summary["up"] == (sig & (table["log2FoldChange"] > 0)).sum()
        assert summary["down"] == (sig & (table["log2FoldChange"] < 0)).sum()
        target, reference = {"disease_vs_chow": ("Disease", "Chow"), "agonist_vs_chow": ("Disease/Agonist", "Chow"),
                             "agonist_vs_disease": ("Disease/Agonist", "Disease")}[contrast]
        assert (summary["n_target"], summary["n_reference"]) == (int((sheet["Group"] == target).sum()),
                                                                  int((sheet["Group"] == reference).sum()))
    # the strongest real signal: Disease/Agonist vs Chow has many DE genes even on 2,000 genes
    big = pd.read_csv(work / "results/dlpc_liver/de/agonist_vs_chow.summary.tsv", sep="\t").iloc[0]
    assert big["up"] + big["down"] > 100


def test_normalised_counts_vst_and_figures(finished_run, dlpc_small):
    work, _, _ = finished_run
    counts = ad.read_h5ad(work / "results/dlpc_liver/counts.h5ad")
    table = pd.read_csv(work / "results/dlpc_liver/de/disease_vs_chow.tsv", sep="\t")
    norm = pd.read_csv(work / "results/dlpc_liver/de/disease_vs_chow.normalized_counts.tsv.gz", sep="\t",
                       index_col=0)
    vst = pd.read_csv(work / "results/dlpc_liver/de/disease_vs_chow.vst.tsv.gz", sep="\t", index_col=0)
    assert norm.shape == vst.shape == (len(table), 20)
    # normalised counts are counts / size factor: each sample's ratio to the raw counts is one constant
    raw = pd.DataFrame(counts.X.T, index=counts.var_names, columns=counts.obs_names).loc[norm.index, norm.columns]
    ratio = (norm / raw.where(raw > 0)).std(axis=0) / (norm / raw.where(raw > 0)).mean(axis=0)
    assert (ratio < 1e-9).all()
    # the VST is one increasing function of the normalised count, the same for every gene and sample
    pairs = pd.DataFrame({"norm": norm.to_numpy().ravel(), "vst": vst.to_numpy().ravel()}).sort_values("norm")
    assert (pairs.groupby("norm")["vst"].agg(np.ptp) < 1e-6).all() and (np.diff(pairs["vst"]) > -1e-6).all()
    # on this subset (the 1,500 most expressed genes) the parametric trend fails and, as R does, DESeq2's
    # local trend is used (R's VST of this subset reaches -8.6 too: the trend is extrapolated to small means)
    dispersions = pd.read_csv(work / "results/dlpc_liver/de/design.dispersions.tsv.gz", sep="\t")
    assert (dispersions["fit_type"] == "local").all() and dispersions["trend_parametric"].isna().all()
    assert "local regression trend substituted" in (work / "logs/de/dlpc_liver.log").read_text()
    for unit in ("disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease",
                 "endothelial_cell_of_hepatic_sinusoid/old_vs_young"):
        ds = "tms_liver" if "/" in unit else "dlpc_liver"
        for kind in ("volcano", "ma", "heatmap", "genes"):
            png = work / f"results/{ds}/figures/{unit}.{kind}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
            assert "<svg" in (work / f"results/{ds}/figures/{unit}.{kind}.svg").read_text()[:2000]


def test_qc_outputs(finished_run):
    work, _, _ = finished_run
    bulk = json.loads((work / "results/dlpc_liver/qc/verdict.json").read_text())
    assert bulk["dominant_signature"] == {"hepatocyte": 20} and bulk["n_samples"] == 20
    samples = pd.read_csv(work / "results/dlpc_liver/qc/samples.tsv", sep="\t")
    assert {"library_size", "corr_z", "pca_z", "outlier", "share_LSEC", "excluded", "warning"} <= set(samples)
    sc_verdict = json.loads((work / "results/tms_liver/qc/verdict.json").read_text())
    assert sc_verdict["labelled_lsec_in_lsec_clusters"] >= 0.9
    for ds, kinds in (("dlpc_liver", ("metrics", "correlation", "pca", "purity", "mean_variance")),
                      ("tms_liver", ("cell_qc", "umap", "purity"))):
        for kind in kinds:
            assert (work / f"results/{ds}/qc/{kind}.png").stat().st_size > 10_000
    # pseudobulk used the QC table: it logged how many cells it left out
    assert "fail QC and are left out" in (work / "logs/pseudobulk/tms_liver.log").read_text()


def test_enrichment_outputs(finished_run):
    work, _, _ = finished_run
    folder = work / "results/dlpc_liver/enrichment/agonist_vs_chow"
    gsea = pd.read_csv(folder / "hallmark.gsea.tsv", sep="\t")
    assert list(gsea.columns) == ["set", "size", "set_size", "ES", "NES", "pval", "padj", "log2err", "fdr_gseapy",
                                  "leading_edge_size", "leading_edge"]
    assert gsea["set"].str.startswith("HALLMARK_").all() and (gsea["size"] >= 15).all()
    # multilevel p-values (the default): each with its expected error; BH never below the p-value
    assert (gsea["pval"] > 0).all() and (gsea["log2err"] > 0).all()
    assert (gsea["padj"] >= gsea["pval"] - 1e-12).all()  # 10 digits
    ora = pd.read_csv(folder / "hallmark.ora.tsv", sep="\t")
    assert set(ora["direction"]) == {"up", "down"}
    assert (work / "results/tms_liver/enrichment/endothelial_cell_of_hepatic_sinusoid/old_vs_young/"
                   "lsec_tnf_axis.gsea.tsv").exists()
    for kind in ("gsea_dotplot", "running_scores", "leading_edge"):
        png = work / f"results/dlpc_liver/figures/agonist_vs_chow.hallmark.{kind}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000
    # one enrichment job per DE unit runs every collection; one figure job per unit draws them
    log_text = (work / "logs/enrichment/dlpc_liver/agonist_vs_chow.log").read_text()
    assert "genes ranked by the DE statistic (DESeq2: Wald" in log_text
    assert "GSEA method multilevel: 200 permutations, multilevel sample size 101, eps 1e-50" in log_text
    collections = yaml.safe_load((work / "config.yaml").read_text())["datasets"]["dlpc_liver"]["enrichment"]
    assert all(f"{c}: " in log_text for c in collections["collections"]), log_text
    fig_log = (work / "logs/figures/dlpc_liver/agonist_vs_chow.log").read_text()
    assert "agonist_vs_chow.volcano.png" in fig_log and "agonist_vs_chow.hallmark.gsea_dotplot.png" in fig_log


def test_paracrine_outputs(finished_run):
    work, _, _ = finished_run
    folder = work / "results/dlpc_liver/paracrine"
    cand = pd.read_csv(folder / "disease_vs_chow.candidates.tsv", sep="\t")
    assert list(cand.columns[:8]) == ["rank", "symbol", "gene_id", "flagged", "direction", "class", "priority",
                                      "log2FoldChange"]
    flagged = cand[cand["flagged"]]
    assert len(flagged) > 0 and (flagged["padj"] < 0.05).all()
    assert list(flagged["rank"]) == list(range(1, len(flagged) + 1))
    # ordered by the checks (survives every leave-one-out refit, follows no contaminant), then priority
    survives = flagged["survives"].astype(str).str.lower() == "true"
    clean = flagged["contamination"].fillna("") == ""
    group = (~survives).astype(int) * 2 + (~clean).astype(int)
    assert group.is_monotonic_increasing
    for _, part in flagged.groupby(group):
        assert part["priority"].is_monotonic_decreasing
    assert ((flagged["marks"].fillna("") == "") == flagged["passes"].astype(bool)).all()
    robust = pd.read_csv(folder / "disease_vs_chow.robustness.tsv", sep="\t")
    assert set(robust["symbol"]) == set(flagged["symbol"]) and robust["padj"].notna().all()
    pairs = pd.read_csv(folder / "disease_vs_chow.pairs.tsv", sep="\t")
    # receivers: this dataset and the configured receiver table (real TMS myeloid counts)
    assert set(pairs["receiver"]) == {"dlpc_liver (this dataset)", "tms_myeloid"}
    assert set(pairs["symbol"]) <= set(flagged["symbol"])
    # single cell: only the LSEC unit, and the LSEC -> receiver scores
    sc = work / "results/tms_liver/paracrine"
    assert sorted(p.name for p in sc.iterdir()) == ["endothelial_cell_of_hepatic_sinusoid", "expression.tsv.gz",
                                                   "receivers.tsv"]
    scores = pd.read_csv(sc / "receivers.tsv", sep="\t")
    assert set(scores["receiver"]) == {"B cell", "T cell", "hepatocyte", "myeloid leukocyte"}
    for png in ("dlpc_liver/figures/disease_vs_chow.paracrine_candidates.png",
                "dlpc_liver/figures/disease_vs_chow.paracrine_pairs.png", "tms_liver/figures/paracrine_receivers.png",
                "tms_liver/figures/endothelial_cell_of_hepatic_sinusoid/old_vs_young.paracrine_candidates.png"):
        assert (work / "results" / png).read_bytes()[:4] == b"\x89PNG"


def test_pseudobulk_de_per_cell_type(finished_run):
    work, _, _ = finished_run
    de = work / "results/tms_liver/de"
    folders = sorted(p.name for p in de.iterdir() if p.is_dir())
    assert folders == sorted(["B_cell", "T_cell", "endothelial_cell_of_hepatic_sinusoid", "hepatocyte",
                              "myeloid_leukocyte"])
    for folder in folders:
        table = pd.read_csv(de / folder / "old_vs_young.tsv", sep="\t")
        assert (work / f"results/tms_liver/figures/{folder}/old_vs_young.volcano.png").exists()
        assert len(table) > 0 and table["log2FoldChange"].notna().all()
    samples = pd.read_csv(de / "pseudobulk_samples.tsv", sep="\t")
    assert samples["kept"].dtype == bool and (~samples["kept"]).sum() > 0


def test_single_cell_composition_is_rs_propeller(finished_run):
    """The shared run's cell-type proportions (every TMS cell passes QC) are R's propeller on the same cells
    (tests/data/composition), LSECs first; the figure in every format; the closing summary says it."""
    work, _, first = finished_run
    folder = work / "results/tms_liver/composition"
    table = pd.read_csv(folder / "propeller.tsv", sep="\t").set_index("cell_type")
    r = pd.read_csv(REPO / "tests/data/composition/propeller_logit.tsv", sep="\t").set_index("cell_type")
    assert table.index[0] == "endothelial cell of hepatic sinusoid" and sorted(table.index) == sorted(r.index)
    # the table's 10 significant digits
    np.testing.assert_allclose(table["pvalue"], r.loc[table.index, "P.Value"], rtol=1e-9)
    np.testing.assert_allclose(table["prop_ratio"], r.loc[table.index, "PropRatio"], rtol=1e-9)
    assert all((folder / f"proportions.{ext}").stat().st_size > 0 for ext in ("png", "svg", "pdf"))
    assert "    composition old_vs_young: 0 of 5 cell types change in share (padj < de.alpha)" in first.stdout


def test_logs_and_rerun_is_a_no_op(finished_run):
    work, cfg, first = finished_run
    # the workflow itself prints where the results are (onsuccess), for cluster and module users too
    assert "lsecflow finished. Results:" in first.stdout and str(work / "results" / "dlpc_liver") in first.stdout
    # and how many warnings the jobs logged, the first of each log (the olfactory GMT's enrichment logs among them)
    assert re.search(r"^  warnings: \d+ in \d+ job log\(s\)", first.stdout, re.M), first.stdout[-3000:]
    assert "    logs/enrichment/dlpc_liver/" in first.stdout
    log = (work / "logs/ingest/dlpc_liver.log").read_text()
    assert "Sample724 renamed to Sample725" in log
    assert "duplicated symbol" in log or "without a symbol" in log
    de_log = (work / "logs/de/dlpc_liver.log").read_text()
    assert "model ~ Group (Wald test" in de_log and de_log.count("fitted on 20 samples") == 1  # one fit, 3 contrasts
    assert all(f"contrast {c}:" in de_log for c in ("disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease"))
    proc = run_snakemake(work, cfg, "--dry-run")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.parametrize("section, key, value, expected", [
    ("enrichment", "permutations", 300, {"enrichment_dlpc_liver", "figures_dlpc_liver"}),
    ("paracrine", "top_n", 7, {"paracrine"}),
])
def test_config_edit_reruns_only_the_jobs_that_read_it(finished_run, section, key, value, expected):
    """Snakemake reruns a job whose parameters changed; each rule gets only the dataset keys it reads
    (lsecflow.rule_params.RULE_SPEC_KEYS), so one edit replans only its own jobs (plus provenance and report,
    which record the whole config, and the target rule all). Dry runs of the finished run, config edited."""
    work, cfg, _ = finished_run
    original = cfg.read_text()
    edited = yaml.safe_load(original)
    ds = edited["datasets"]["dlpc_liver"]
    ds[section] = {**ds[section], key: value}  # a copy: the small config shares sections by YAML anchor
    try:  # the same file, edited in place (ingest's parameters name the config file), then restored
        cfg.write_text(yaml.safe_dump(edited, sort_keys=False))
        rules, out = _planned_rules(work, cfg)
    finally:
        cfg.write_text(original)
    assert rules == expected | {"provenance", "report", "all"}, out[-3000:]
    outputs = re.findall(r"^\s+output: .*$", out, flags=re.M)
    assert not [o for o in outputs if "tms_liver" in o], "\n".join(outputs)


def test_lint_has_no_findings():
    proc = snakemake_cli("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_code_is_formatted_and_linted():
    """What `make lint` runs besides Snakemake's lint: snakefmt on the rules, ruff on the Python (pyproject.toml)."""
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/rules"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "workflow", "tests", "bench"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr


@pytest.mark.parametrize("configfile", sorted(p.name for p in (REPO / "config").glob("*.yaml")))
def test_dry_run_plans_full_dag(configfile, tmp_path):
    proc = snakemake_cli("--configfile", f"config/{configfile}", "--dry-run", "--directory", str(tmp_path),
                         "--snakefile", str(REPO / "Snakefile"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for rule in ("ingest", "qc_bulk", "qc_single_cell", "pseudobulk", "de_dlpc_liver", "de_tms_liver",
                 "enrichment_dlpc_liver", "enrichment_tms_liver", "figures_dlpc_liver", "figures_tms_liver", "paracrine",
                 "paracrine_receivers"):
        assert f"rule {rule}:" in out
    # one DE fit per design: DLPC's three contrasts come from one job, TMS has one job per cell type;
    # enrichment (every collection) and figures: one job per DE unit
    assert out.count("rule de_dlpc_liver:") == 1 and out.count("rule de_tms_liver:") == 5
    for rule in ("enrichment", "figures"):
        assert out.count(f"rule {rule}_dlpc_liver:") == 3 and out.count(f"rule {rule}_tms_liver:") == 5
    assert out.count("rule composition:") == 1  # the single-cell dataset's proportions; none for bulk


def test_composition_off_plans_no_proportions(tmp_path):
    """``composition.enabled: false`` takes the step out of the plan (and so out of the report)."""
    spec = yaml.safe_load((REPO / "config/datasets/tms_liver.yaml").read_text())
    spec["composition"] = {"enabled": False}
    (tmp_path / "tms.yaml").write_text(yaml.safe_dump(spec))
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "datasets": {"tms": str(tmp_path / "tms.yaml")}}))
    proc = snakemake_cli("--configfile", str(mine), "--dry-run")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rule pseudobulk:" in out and "rule composition:" not in out


def test_a_users_config_replaces_the_default(tmp_path):
    """Run from the repository (where config/config.yaml, the default, lists both shipped datasets): a config
    given with --configfile that lists one dataset plans that dataset alone; one without `datasets:` extends
    the default (both datasets)."""
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"results": str(tmp_path / "results"),
                                    "datasets": {"dlpc_liver": "config/datasets/dlpc_liver.yaml"}}))
    proc = snakemake_cli("--configfile", str(mine), "--dry-run")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rule de_dlpc_liver:" in out and "tms_liver" not in out, out[-3000:]
    assert "extended by additional config" not in out
    partial = tmp_path / "partial.yaml"
    partial.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "report": False}))
    proc = snakemake_cli("--configfile", str(partial), "--dry-run")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "rule de_dlpc_liver:" in out and "rule de_tms_liver:" in out and "rule report:" not in out


def test_datasets_of_different_engines_each_run_their_own(tmp_path, dlpc_small):
    """A DESeq2 dataset, a limma-voom one, an edgeR one and a proteomics one in one config, each DE job running its
    own engine.
    Until 2026-12-03 the de rules (made in a loop) chose their script by an expression that Snakemake evaluates
    when the job runs, after the loop: every dataset ran the engine of the dataset listed last (here: limma on
    proteins, which stopped DLPC's job). Real data: the DLPC subset, UPS1 (blocked by its replicate column: the
    rule's block file, de.block)."""
    from helpers import dlpc_dataset, ups1_dataset, write_config

    cfg = write_config(tmp_path, {"dlpc_liver": dlpc_dataset(dlpc_small),
                                  "dlpc_voom": dlpc_dataset(dlpc_small, de={"engine": "voom"}),
                                  "dlpc_edger": dlpc_dataset(dlpc_small, de={"engine": "edger"}),
                                  "ups1": ups1_dataset(de={"block": "replicate"})})
    targets = [str(tmp_path / f"results/{name}/de/{contrast}.tsv") for name, contrast in
               (("dlpc_liver", "disease_vs_chow"), ("dlpc_voom", "disease_vs_chow"), ("dlpc_edger", "disease_vs_chow"),
                ("ups1", "fmol25_vs_fmol10"))]
    proc = run_snakemake(tmp_path, cfg, *targets)
    assert proc.returncode == 0, proc.stderr[-4000:]
    deseq2, voom, edger, limma = (pd.read_csv(t, sep="\t") for t in targets)
    assert "logCPM" in edger and "F" in edger and "AveExpr" not in edger and "baseMean" not in edger
    assert "s2_post" in pd.read_csv(tmp_path / "results/dlpc_edger/de/design.dispersions.tsv.gz", sep="\t")
    assert "baseMean" in deseq2 and "AveExpr" not in deseq2
    assert (tmp_path / "results/dlpc_liver/de/design.dispersions.tsv.gz").exists()
    assert "AveExpr" in voom and "n_valid_target" not in voom and "B" in voom
    assert "n_valid_target" in limma
    block = pd.read_csv(tmp_path / "results/ups1/de/design.block.tsv", sep="\t")
    assert block.loc[0, "block"] == "replicate" and block.loc[0, "correlation"] == pytest.approx(0.0174187, abs=1e-6)
