"""assay: proteomics -- readers, preprocessing, limma against R, the UPS1 truth, a workflow run, bad input.

Real data: the UPS1 spike-in (MaxQuant, shipped, GPL-2) and the endothelial secretome (FragPipe; no
licence, so read from ../shared and skipped where it is not staged). R limma 3.54.1 references: made by
tests/data/limma/make_reference.R from the shipped UPS1 table, and by the secretome's own
make_reference.R in ../shared. The DIA-NN and generic tables are the real UPS1 values written in those
layouts (the file format is what is tested).
"""
from __future__ import annotations

import gzip
import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import (
    REPO,
    SECRETOME,
    UPS1_TABLE,
    UPS1_TRUTH,
    files_under,
    run_snakemake,
    secretome_dataset,
    ups1_dataset,
    write_config,
)
from lsecflow import limma, protein_tables, proteomics
from lsecflow.calls import is_significant
from lsecflow.config import load_config
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.de_proteomics import run_de_proteomics
from lsecflow.errors import InputDataError, LsecflowError
from lsecflow.formula import design_metadata
from lsecflow.ingest import run_ingest

LIMMA_REF = REPO / "tests/data/limma"
UPS1_SHEET = REPO / "config/samples/ups1_spikein.tsv"
needs_secretome = pytest.mark.skipif(not (SECRETOME / "proteins_maxlfq.tsv.gz").exists(),
                                     reason="the secretome is not shipped (no licence); staged in ../shared only")
UPS1_CONTRAST = {"fmol25_vs_fmol10": {"variable": "group", "target": "fmol25", "reference": "fmol10"}}


def ups1_sheet() -> pd.DataFrame:
    return pd.read_csv(UPS1_SHEET, sep="\t", dtype=str).set_index("sample", drop=False)


def agreement(ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    """Pearson r of logFC and t, max |difference|, Jaccard of the adj.P < 0.05 sets (ours indexed like ref)."""
    ours = ours.loc[ref.index]
    a, b = set(ref.index[ours["padj"] < 0.05]), set(ref.index[ref["adj.P.Val"] < 0.05])
    return {"r_lfc": np.corrcoef(ours["log2FoldChange"], ref["logFC"])[0, 1],
            "r_t": np.corrcoef(ours["stat"], ref["t"])[0, 1],
            "max_lfc": float(np.abs(ours["log2FoldChange"] - ref["logFC"]).max()),
            "max_t": float(np.abs(ours["stat"] - ref["t"]).max()),
            "jaccard": len(a & b) / len(a | b) if a | b else 1.0, "n_ref": len(b)}


def assert_matches(stats: dict, tol: float = 1e-8) -> None:
    """The acceptance thresholds (r >= 0.9999, Jaccard >= 0.99), and the port's actual closeness."""
    assert stats["r_lfc"] >= 0.9999 and stats["r_t"] >= 0.9999 and stats["jaccard"] >= 0.99, stats
    assert stats["max_lfc"] < tol and stats["max_t"] < tol, stats


def ups1_fit(opts: dict | None = None, normalize: str = "median"):
    """The UPS1 table through the reference preprocessing (or quantile normalisation) and limma."""
    sheet = ups1_sheet()
    values, var, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {"normalize": normalize})
    meta = design_metadata(sheet.loc[pre.values.columns], ["group"], UPS1_CONTRAST)
    stats, prior = limma.contrast_tables(pre.values, meta, "~ group", UPS1_CONTRAST,
                                         {"lfc_threshold": 0.0, **(opts or {})})
    return stats["fmol25_vs_fmol10"], pre, var, prior


def r_table(name: str) -> pd.DataFrame:
    """A table written by make_reference.R (R's format() pads values, NA included)."""
    t = pd.read_csv(LIMMA_REF / name, sep="\t", index_col=0, dtype=str)
    return t.apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))


# ------------------------------------------------------------------------------------------ readers
def test_maxquant_reader_removes_and_counts_flagged_rows():
    sheet = ups1_sheet()
    header = protein_tables.read_header(UPS1_TABLE)
    assert protein_tables.detect_protein_format(header) == "maxquant"
    values, var, report = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    # 24 decoys + 10 contaminants (one also 'only identified by site' is counted once, under its first flag)
    assert report["removed"] == {"Potential contaminant": 10, "Reverse": 24}
    assert values.shape == (2384 - 34, 6) and list(values.columns) == list(sheet.index)
    assert not any(i.startswith(("REV__", "CON__")) for i in values.index)
    raw = pd.read_csv(UPS1_TABLE, sep="\t", dtype={"Protein IDs": str})
    # (in this table six decoys' 'Protein IDs' lost their REV__ prefix: the Reverse flag removes them)
    raw = raw[raw["Reverse"].ne("+")].set_index("Protein IDs")
    assert np.array_equal(values["C_R1"].to_numpy(), raw.loc[values.index, "LFQ intensity C_R1"].to_numpy())
    # the raw intensities on request; a protein group of several genes keeps them all
    raw_int, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {"intensity": "intensity"},
                                                      "human", sheet)
    assert np.array_equal(raw_int["D_R2"].to_numpy(), raw.loc[raw_int.index, "Intensity D_R2"].to_numpy())
    assert var["symbol"].str.contains(";").sum() > 0


def layouts_of_ups1(tmp_path):
    """The real UPS1 LFQ values written as a DIA-NN pg_matrix and as a generic table with replicate rows."""
    sheet = ups1_sheet()
    values, var, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    runs = {s: f"D:\\raw\\2016\\{s}.raw" for s in sheet.index}
    diann = pd.DataFrame({"Protein.Group": values.index, "Protein.Ids": values.index, "Protein.Names": "",
                          "Genes": var["symbol"].to_numpy(), "First.Protein.Description": ""})
    for s, run in runs.items():
        diann[run] = values[s].replace(0, np.nan).to_numpy()
    diann_path = tmp_path / "report.pg_matrix.tsv"
    diann.to_csv(diann_path, sep="\t", index=False)
    generic = values.head(200).rename_axis("analyte").reset_index()
    spots = pd.concat([generic, generic.assign(**{s: generic[s] * 1.5 for s in sheet.index})])  # two spots each
    generic_path = tmp_path / "array.csv"
    spots.to_csv(generic_path, index=False)
    return values, diann_path, generic_path


def test_diann_and_generic_layouts(tmp_path):
    sheet = ups1_sheet()
    values, diann_path, generic_path = layouts_of_ups1(tmp_path)
    assert protein_tables.detect_protein_format(protein_tables.read_header(diann_path)) == "diann"
    got, var, _ = protein_tables.read_protein_table(diann_path, "diann", sheet.index, {}, "human", sheet)
    # runs matched by file name; DIA-NN writes missing values as blanks (read as NaN, never as 0)
    pd.testing.assert_frame_equal(got.fillna(0), values, check_names=False)
    assert protein_tables.detect_protein_format(protein_tables.read_header(generic_path)) == "protein_table"
    with pytest.raises(InputDataError, match="appear on more than one row.*duplicate_ids: mean"):
        protein_tables.read_protein_table(generic_path, "protein_table", sheet.index, {}, "human", sheet)
    avg, _, report = protein_tables.read_protein_table(generic_path, "protein_table", sheet.index,
                                                       {"duplicate_ids": "mean"}, "human", sheet)
    assert report["replicate_rows_averaged"] == 200
    np.testing.assert_allclose(avg.to_numpy(), values.head(200).to_numpy() * 1.25)


# ------------------------------------------------------------------------------------------ preprocessing
def test_quantile_normalisation_is_limmas():
    sheet = ups1_sheet()
    values, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {"normalize": "quantile"})
    ref = r_table("ups1.quantile_matrix.tsv.gz")
    ours = pre.values.loc[ref.index, ref.columns]
    assert ours.isna().equals(ref.isna())
    assert float(np.nanmax(np.abs(ours.to_numpy() - ref.to_numpy()))) < 1e-9


def test_filter_and_imputation():
    sheet = ups1_sheet()
    values, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    each = proteomics.preprocess(values, sheet["group"], {})
    anyg = proteomics.preprocess(values, sheet["group"], {"min_valid_in": "any"})
    assert len(each.values) == 1470 < len(anyg.values)
    steps = {s["step"]: s for s in each.steps}
    assert steps["valid_filter"]["proteins"] == 1470 and steps["normalize"]["missing"] == 193
    imp = proteomics.preprocess(values, sheet["group"], {"min_valid_in": "any", "impute": "downshift"}, seed=7)
    again = proteomics.preprocess(values, sheet["group"], {"min_valid_in": "any", "impute": "downshift"}, seed=7)
    pd.testing.assert_frame_equal(imp.values, again.values)  # seeded
    assert int(imp.imputed.to_numpy().sum()) == int(anyg.values.isna().to_numpy().sum()) > 0
    assert not imp.values.isna().to_numpy().any()
    for s in imp.values.columns:  # left-censored: drawn below the sample's observed values
        drawn, seen = imp.values[s][imp.imputed[s]], imp.values[s][~imp.imputed[s]]
        assert drawn.mean() < seen.mean() - 1.0 * seen.std()


# ------------------------------------------------------------------------------------------ limma vs R
@pytest.mark.parametrize("variant, opts, normalize", [
    ("median", {}, "median"),
    ("treat", {"lfc_threshold": 0.5}, "median"),
    ("trend", {"trend": True}, "median"),
    ("robust", {"robust": True}, "median"),
    ("quantile", {}, "quantile"),
])
def test_ups1_matches_r_limma(variant, opts, normalize):
    ours, _, _, _ = ups1_fit(opts, normalize)
    ref = r_table(f"ups1.{variant}.tsv.gz")
    assert_matches(agreement(ours, ref))
    np.testing.assert_allclose(ours.loc[ref.index, "s2_post"], ref["s2_post"], rtol=1e-8)
    np.testing.assert_allclose(ours.loc[ref.index, "df_total"], ref["df_total"], rtol=1e-6)
    np.testing.assert_allclose(ours.loc[ref.index, "pvalue"], ref["P.Value"], rtol=1e-6, atol=1e-12)


@pytest.mark.skipif(not (SECRETOME.parent / "ups1_yeast_spikein").exists(), reason="../shared not staged")
def test_ups1_matches_the_staged_reference():
    """The staged UPS1 reference (../shared, made by its own make_reference.R from the same table)."""
    ours, _, _, _ = ups1_fit()
    ref = pd.read_csv(SECRETOME.parent / "ups1_yeast_spikein/limma_reference_fmol25_vs_fmol10.tsv", sep="\t",
                      dtype={"id": str})
    ids = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, usecols=["id", "Protein IDs"]).set_index("id")["Protein IDs"]
    ref.index = ref["id"].map(ids)
    assert len(ref) == 1470
    assert_matches(agreement(ours, ref))


def test_batched_lm_fit_equals_inmoose_and_r():
    """limma.lm_fit (one solve per missing-value pattern) gives inmoose's lmFit + eBayes where that works,
    and R's results where it does not: proteins whose observed samples leave a coefficient inestimable
    (a whole group missing; R: NA coefficient, df = observed - rank; inmoose 0.9.1: a singular-matrix error)."""
    from inmoose.limma import eBayes, lmFit

    _, pre, _, _ = ups1_fit()
    meta = design_metadata(ups1_sheet().loc[pre.values.columns], ["group"], UPS1_CONTRAST)
    design = limma.design_matrix(meta, "~ group", "group", "fmol10")
    ref, ours = eBayes(lmFit(pre.values.to_numpy(), design)), limma.fit(pre.values, design)
    for key in ("coefficients", "stdev_unscaled", "sigma", "df_residual", "Amean", "s2_post", "t", "p_value"):
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float),
                                   np.asarray(getattr(ref, key), dtype=float), rtol=1e-8, atol=1e-12, err_msg=key)
    values = pre.values.copy()
    values.iloc[:3, :3] = np.nan  # C_R1..C_R3 are the fmol25 runs
    with pytest.raises(np.linalg.LinAlgError):
        lmFit(values.to_numpy(), design)
    ours = limma.fit(values, design)
    r = r_table("ups1.rank_deficient.tsv.gz")
    assert r["logFC"].isna().sum() == 3 and np.isnan(np.asarray(ours.coefficients)[:3, 1]).all()
    for key, col in (("coefficients", "logFC"), ("stdev_unscaled", "se_unscaled"), ("t", "t"), ("p_value", "P.Value")):
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float)[:, 1], r[col], rtol=1e-8, err_msg=key)
    for key, col in (("sigma", "sigma"), ("df_residual", "df_residual"), ("s2_post", "s2_post")):
        np.testing.assert_allclose(np.asarray(getattr(ours, key), dtype=float), r[col], rtol=1e-8, err_msg=key)


@needs_secretome
def test_secretome_matches_r_limma():
    """The staged secretome through the reference preprocessing: every contrast against R limma."""
    sheet = pd.read_csv(SECRETOME / "samples.tsv", sep="\t", dtype=str).set_index("sample", drop=False)
    opts = {"column_key": "intensity_column", "organism": "Homo sapiens"}
    path = SECRETOME / "proteins_maxlfq.tsv.gz"
    assert protein_tables.detect_protein_format(protein_tables.read_header(path)) == "fragpipe"
    values, _, report = protein_tables.read_protein_table(path, "fragpipe", sheet.index, opts, "human", sheet)
    assert report["removed"] == {"organism not Homo sapiens": 9}
    pre = proteomics.preprocess(values, sheet["group"], {})
    assert len(pre.values) == 1395 and int(pre.values.isna().to_numpy().sum()) == 654
    contrasts = {f"{t}_vs_PBS": {"variable": "group", "target": t, "reference": "PBS"} for t in ("CPPP", "CPPS", "MPP")}
    meta = design_metadata(sheet.loc[pre.values.columns], ["group"], contrasts)
    stats, prior = limma.contrast_tables(pre.values, meta, "~ group", contrasts, {"lfc_threshold": 0.0})
    assert prior["df_prior"] == pytest.approx(4.754, abs=1e-3) and prior["s2_prior"] == pytest.approx(0.07781, rel=1e-3)
    for name in contrasts:
        ref = pd.read_csv(SECRETOME / f"limma_reference_{name}.tsv", sep="\t", index_col="protein_id")
        stats_name = agreement(stats[name], ref)
        assert_matches(stats_name)
    assert int((stats["CPPP_vs_PBS"]["padj"] < 0.05).sum()) == 378


# ------------------------------------------------------------------------------------------ the UPS1 truth
def ups1_truth(table: pd.DataFrame) -> pd.DataFrame:
    truth = pd.read_csv(UPS1_TRUTH, sep="\t", dtype={"id": str})
    truth = truth[truth["class"] != "decoy"]  # six decoys share a 'Protein IDs' value with their yeast protein
    ids = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, usecols=["id", "Protein IDs"]).set_index("id")["Protein IDs"]
    truth.index = truth["id"].map(ids)
    return table.join(truth[["class"]], on="gene_id")


def test_ups1_truth_and_fold_change_threshold(tmp_path):
    """Every UPS1 protein that passes the filter is called, their median log2FC is within 0.2 of 1.32; the
    yeast false-discovery proportion is reported, and de.lfc_threshold from the config lowers it."""
    cfg = write_config(tmp_path, {"ups1": ups1_dataset()})
    results = {}
    for threshold in (0.0, 0.5):
        conf = yaml.safe_load(cfg.read_text())
        conf["datasets"]["ups1"].setdefault("de", {})["lfc_threshold"] = threshold
        ds = load_config(conf, roots=[tmp_path, REPO], source=str(cfg)).datasets["ups1"]
        h5ad = tmp_path / f"counts_{threshold}.h5ad"
        run_ingest(ds.params(rule="ingest"), str(h5ad))
        outputs = {"fmol25_vs_fmol10": {k: str(tmp_path / f"{threshold}.{k}.tsv") for k in OUTPUT_KINDS}}
        table = run_de_proteomics(str(h5ad), ds.params(rule="de"), outputs)["fmol25_vs_fmol10"]
        table = ups1_truth(table)
        called = is_significant(table, 0.05, threshold)
        ups1 = table[table["class"] == "UPS1_human"]
        assert len(ups1) == 42 and abs(ups1["log2FoldChange"].median() - np.log2(2.5)) < 0.2
        yeast_fp = int((called & (table["class"] == "yeast")).sum())
        results[threshold] = (yeast_fp / int(called.sum()), int(called[ups1.index].sum()))
        print(f"lfc_threshold {threshold}: {int(called.sum())} called, {results[threshold][1]} of 42 UPS1, "
              f"{yeast_fp} yeast; observed FDP {results[threshold][0]:.3f}; UPS1 median log2FC "
              f"{ups1['log2FoldChange'].median():.3f}")
    assert results[0.0] == (pytest.approx(41 / 83, abs=1e-9), 42)  # all 42 called; R limma's FDP 41 / 83
    # treat against |log2FC| > 0.5: the yeast FDP more than halves; two noisy UPS1 proteins (MB, C5) drop out
    assert results[0.5][0] < results[0.0][0] / 2 and results[0.5][1] >= 40


# ------------------------------------------------------------------------------------------ workflow run
@pytest.fixture(scope="module")
def proteomics_run(tmp_path_factory):
    """One real workflow run: UPS1 (shipped) and, where staged, the secretome."""
    work = tmp_path_factory.mktemp("proteomics")
    fast = {"collections": ["hallmark", "matrisome"], "permutations": 200}
    datasets = {"ups1": ups1_dataset(enrichment={"collections": ["hallmark"], "permutations": 200})}
    if (SECRETOME / "proteins_maxlfq.tsv.gz").exists():
        datasets["secretome"] = secretome_dataset(enrichment=fast)
    cfg = write_config(work, datasets)
    proc = run_snakemake(work, cfg)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work / "results"


def test_workflow_ups1(proteomics_run):
    res = proteomics_run / "ups1"
    table = pd.read_csv(res / "de/fmol25_vs_fmol10.tsv", sep="\t", index_col="gene_id")
    assert_matches(agreement(table, r_table("ups1.median.tsv.gz")))
    steps = pd.read_csv(res / "qc/preprocessing.tsv", sep="\t").set_index("step")
    assert steps.loc["valid_filter", "proteins"] == 1470
    assert json.loads((res / "qc/verdict.json").read_text())["proteins_kept"] == 1470
    for kind in ("missing", "intensities", "correlation", "pca"):
        assert (res / f"qc/{kind}.png").stat().st_size > 10_000
    cand = pd.read_csv(res / "paracrine/fmol25_vs_fmol10.candidates.tsv", sep="\t")
    flagged = cand[cand["flagged"]]
    assert {"EGF", "CXCL8", "TNF"} <= set(flagged["symbol"])  # human UPS1 factors, up 2.5-fold
    loo = pd.read_csv(res / "paracrine/fmol25_vs_fmol10.robustness.tsv", sep="\t")
    assert loo["left_out"].nunique() == 6 and loo["padj"].notna().all()


@needs_secretome
def test_workflow_secretome_report(proteomics_run):
    res = proteomics_run / "secretome"
    table = pd.read_csv(res / "de/CPPP_vs_PBS.tsv", sep="\t", index_col="gene_id")
    ref = pd.read_csv(SECRETOME / "limma_reference_CPPP_vs_PBS.tsv", sep="\t", index_col="protein_id")
    assert_matches(agreement(table, ref))
    cand = pd.read_csv(res / "paracrine/CPPP_vs_PBS.candidates.tsv", sep="\t")
    flagged = cand[cand["flagged"]]
    top = flagged.head(30)
    assert {"protease/ECM regulator", "growth factor"} <= set(top["class"]), top[["symbol", "class"]]
    # the paper's title: soluble CD59 up, basement-membrane proteins down
    direction = flagged.set_index("symbol")["direction"]
    assert direction["CD59"] == "up" and {direction[g] for g in ("HSPG2", "NID1", "NID2")} == {"down"}
    assert list(flagged["rank"]) == list(range(1, len(flagged) + 1))
    html = (proteomics_run / "report.html").read_text()
    for needle in ("secretome/qc/missing.png", "secretome/qc/intensities.png", "CPPP_vs_PBS.volcano.png",
                   "CPPP_vs_PBS.matrisome.gsea_dotplot.png", "Preprocessing", "proteomics, human"):
        assert needle in html, needle
    gsea = pd.read_csv(res / "enrichment/CPPP_vs_PBS/matrisome.gsea.tsv", sep="\t")
    assert len(gsea) > 0


# ------------------------------------------------------------------------------------------ bad input
def load(tmp_path, spec: dict):
    cfg = write_config(tmp_path, {"p": spec})
    return load_config(yaml.safe_load(cfg.read_text()), roots=[tmp_path, REPO], source=str(cfg))


def bad_table(tmp_path, edit) -> str:
    """The real UPS1 table with one edit (``edit(df)`` changes the DataFrame in place)."""
    df = pd.read_csv(UPS1_TABLE, sep="\t", dtype=str, keep_default_na=False)
    edit(df)
    path = tmp_path / "proteinGroups.txt.gz"
    with gzip.open(path, "wt") as fh:
        df.to_csv(fh, sep="\t", index=False)
    return str(path)


def test_table_without_intensity_columns(tmp_path):
    path = bad_table(tmp_path, lambda df: df.drop(columns=[c for c in df.columns if "intensity" in c.lower()],
                                                  inplace=True))
    with pytest.raises(LsecflowError) as exc:
        load(tmp_path, ups1_dataset(table=path))
    msg = str(exc.value)
    assert path in msg and "sample 'C_R1'" in msg and "'LFQ intensity C_R1'" in msg


def test_sheet_names_columns_not_in_table(tmp_path):
    sheet = ups1_sheet().assign(column=lambda d: "LFQ intensity " + d["sample"])
    sheet.loc["D_R3", "column"] = "LFQ intensity D_R9"
    sheet_path = tmp_path / "sheet.tsv"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    spec = ups1_dataset(samples={"sheet": str(sheet_path)})
    spec["proteomics"]["column_key"] = "column"
    with pytest.raises(LsecflowError, match=r"sample 'D_R3': the sheet's column 'column' names 'LFQ intensity D_R9'"):
        load(tmp_path, spec)


def test_non_numeric_intensity_names_column_and_protein(tmp_path):
    def edit(df):
        df.loc[df["Protein IDs"] == "P01375", "LFQ intensity D_R2"] = "n.d."
    ds = load(tmp_path, ups1_dataset(table=bad_table(tmp_path, edit))).datasets["p"]
    out = tmp_path / "results/counts.h5ad"
    with pytest.raises(InputDataError, match=r"column 'LFQ intensity D_R2', protein 'P01375': value 'n.d.' is not a number"):
        run_ingest(ds.params(rule="ingest"), str(out))
    assert files_under(tmp_path / "results") == []


def test_all_missing_proteins_and_samples(tmp_path):
    """All-missing proteins are dropped and counted (first ones named); a sample without any value, and a
    table where no protein passes the filter, stop with the sample / the filter named."""
    sheet = ups1_sheet()
    values, _, _ = protein_tables.read_protein_table(UPS1_TABLE, "maxquant", sheet.index, {}, "human", sheet)
    pre = proteomics.preprocess(values, sheet["group"], {})
    dropped = next(s for s in pre.steps if s["step"] == "drop_all_missing")
    empty = values.index[(values == 0).all(axis=1)]
    assert str(len(empty)) in dropped["detail"] and empty[0] in dropped["detail"]
    with pytest.raises(InputDataError, match="sample 'D_R1' has no quantified protein"):
        proteomics.preprocess(values.assign(D_R1=0.0), sheet["group"], {})

    def zero_run(df):
        df["LFQ intensity D_R1"] = "0"
    with pytest.raises(InputDataError, match=r"proteinGroups.txt.gz: column 'LFQ intensity D_R1' \(sample 'D_R1'\) "
                                             "has no quantified protein"):
        protein_tables.read_protein_table(bad_table(tmp_path, zero_run), "maxquant", sheet.index, {}, "human", sheet)
    with pytest.raises(InputDataError, match="no protein passes the valid-value filter"):
        proteomics.preprocess(values, sheet["group"], {"min_valid": 4})


def test_proteomics_keys_are_checked(tmp_path):
    with pytest.raises(LsecflowError, match="gene_ids: protein"):
        load(tmp_path, ups1_dataset(gene_ids="symbol"))
    with pytest.raises(LsecflowError, match="'de.trend' and 'de.robust'.*choose one"):
        load(tmp_path, ups1_dataset(de={"trend": True, "robust": True}))
    with pytest.raises(LsecflowError, match="counts.format' is 'tsv' but assay is 'proteomics'"):
        load(tmp_path, ups1_dataset(counts={"path": str(UPS1_TABLE), "format": "tsv"}))


def test_counts_h5ad_holds_the_intensities(tmp_path):
    ds = load(tmp_path, ups1_dataset()).datasets["p"]
    out = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(out))
    a = ad.read_h5ad(out)
    assert a.shape == (6, 2350) and a.X.dtype == np.float64
    assert a.var.loc["P01375", "symbol"] == "TNF"


def test_protein_groups_match_factors_on_any_gene():
    """A protein group of several genes is a candidate when any of its genes is an annotated factor; a factor
    that also has a group of its own keeps that one (real annotation table, a SYNTHETIC 4-row DE table)."""
    from lsecflow.lrdb import load_factors
    from lsecflow.paracrine import rank_candidates

    factors = load_factors(REPO / "resources/paracrine/human.factors.tsv.gz")
    de = pd.DataFrame({"gene_id": ["P1", "P2", "P3", "P4"], "symbol": ["YBR1;EGF", "TNF", "YCR2", "CXCL8;XX1"],
                       "AveExpr": 20.0, "log2FoldChange": [1.5, 1.2, 0.1, -1.0], "pvalue": [1e-6, 1e-5, 0.5, 1e-4],
                       "padj": [1e-5, 1e-4, 0.6, 1e-3]})
    cand = rank_candidates(de, factors, 0.05)
    assert set(cand["symbol"]) == {"EGF", "TNF", "CXCL8"} and cand.set_index("symbol").at["EGF", "gene_id"] == "P1"
    both = pd.concat([de, de.iloc[[0]].assign(gene_id="P5", symbol="EGF")], ignore_index=True)
    cand = rank_candidates(both, factors, 0.05)
    assert (cand["symbol"] == "EGF").sum() == 1 and cand.set_index("symbol").at["EGF", "gene_id"] == "P5"
