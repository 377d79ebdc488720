"""lsecflow.composition: speckle's propeller on the real Tabula Muris Senis cells equals R's (speckle 0.99.7,
limma 3.54.1: tests/data/composition/make_reference.R) in every variant -- logit and arcsine transforms, robust
and trend eBayes, a covariate, two cell types, a random block (de.block, limma's blocked fit) -- a planted
change in a SYNTHETIC bootstrap is found, and the rule entry point counts the cells the workflow would (QC,
qc.exclude), takes de.block from the cells and says which contrasts it cannot test."""
from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import REPO, TMS_H5AD, TMS_SHEET
from lsecflow.composition import COLUMNS, cell_counts, propeller, run_composition, sample_table, transformed_proportions
from lsecflow.errors import UnfittableFit
from lsecflow.rule_params import guard_params
from lsecflow.synthetic import composition_samples

REF = REPO / "tests/data/composition"
OLD = {"old_vs_young": {"variable": "age_group", "target": "OLD", "reference": "YOUNG"}}
LSEC = "endothelial cell of hepatic sinusoid"


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    return pd.read_csv(REF / "tms_cells.tsv.gz", sep="\t", dtype=str)


def test_the_reference_cells_are_the_shipped_h5ad_cells(cells):
    """R read tms_cells.tsv.gz; it must be the shipped cells, plate and sheet as the dataset's config has them."""
    obs = ad.read_h5ad(TMS_H5AD, backed="r").obs
    sheet = pd.read_csv(TMS_SHEET, sep="\t", dtype=str).set_index("sample")
    assert list(cells["cell"]) == list(obs.index.astype(str))
    assert list(cells["sample"]) == [name.split("_")[1] for name in obs.index]
    assert list(cells["cell_type"]) == list(obs["cell_type"].astype(str))
    assert list(cells["age_group"]) == list(sheet.loc[cells["sample"], "age_group"])
    assert list(cells["sex"]) == list(sheet.loc[cells["sample"], "sex"])


def _ours(cells, design, columns, **kw) -> pd.DataFrame:
    counts = cell_counts(cells["sample"], cells["cell_type"])
    meta = sample_table(cells, columns, OLD).loc[counts.index]
    return propeller(counts, meta, design, OLD, **kw)["old_vs_young"].set_index("cell_type")


@pytest.mark.parametrize("name, design, columns, kw, types", [
    ("logit", "~ age_group", ["age_group"], {}, None),
    ("asin", "~ age_group", ["age_group"], {"transform": "asin"}, None),
    ("trend", "~ age_group", ["age_group"], {"robust": False, "trend": True}, None),
    ("sex", "~ age_group + sex", ["age_group", "sex"], {}, None),  # R: propeller.ttest on ~ 0 + age_group + sex
    ("two_types", "~ age_group", ["age_group"], {}, [LSEC, "hepatocyte"]),  # propeller turns robust off
])
def test_propeller_equals_r(cells, name, design, columns, kw, types):
    ours = _ours(cells if types is None else cells[cells["cell_type"].isin(types)], design, columns, **kw)
    r = pd.read_csv(REF / f"propeller_{name}.tsv", sep="\t").set_index("cell_type")
    assert sorted(ours.index) == sorted(r.index)
    r = r.loc[ours.index]
    means = [c for c in r.columns if c.startswith("PropMean")]  # OLD then YOUNG (R's level order)
    pairs = [("stat", "Tstatistic"), ("pvalue", "P.Value"), ("padj", "FDR"), ("prop_ratio", "PropRatio"),
             ("prop_target", means[0]), ("prop_reference", means[1])]
    if "BaselineProp.Freq" in r.columns:
        pairs.append(("baseline_prop", "BaselineProp.Freq"))
    for ours_col, r_col in pairs:
        np.testing.assert_allclose(ours[ours_col], r[r_col], rtol=1e-12, atol=1e-14, err_msg=f"{name}: {ours_col}")
    assert (ours["n_cells"] == cells[cells["cell_type"].isin(ours.index)]["cell_type"].value_counts()
            .reindex(ours.index)).all()


def test_a_block_is_limmas_blocked_fit_as_in_r(cells, caplog):
    """``de.block`` (sex as a random block; design ~ age_group): the within-block correlation of the transformed
    proportions (duplicateCorrelation) and the blocked fit's statistics equal R's, and differ from the fit
    without the block; the correlation is in the log."""
    r = pd.read_csv(REF / "propeller_block.tsv", sep="\t").set_index("cell_type")
    sexes = cells.drop_duplicates("sample").set_index("sample")["sex"]
    with caplog.at_level(logging.INFO, logger="lsecflow.composition"):
        ours = _ours(cells, "~ age_group", ["age_group"], block=sexes.rename("sex"))
    r = r.loc[ours.index]
    for ours_col, r_col in (("effect", "logFC"), ("stat", "t"), ("pvalue", "P.Value"), ("padj", "adj.P.Val")):
        np.testing.assert_allclose(ours[ours_col], r[r_col], rtol=1e-8, err_msg=ours_col)
    rho = float(caplog.text.split("consensus correlation ")[1].split()[0])
    assert rho == pytest.approx(r["correlation"].iloc[0], abs=5e-5)  # logged at 4 decimals: -0.0575
    unblocked = _ours(cells, "~ age_group", ["age_group"])
    assert np.abs(unblocked["stat"] - ours["stat"]).max() > 0.01


def test_the_design_test_equals_propeller_anova(cells):
    """Four levels (age group x sex): propeller's ANOVA is limma's moderated F of the group coefficients; here
    ``de.reduced`` "~ 1" against "~ group"."""
    cells = cells.assign(group=cells["age_group"] + "_" + cells["sex"])
    counts = cell_counts(cells["sample"], cells["cell_type"])
    meta = sample_table(cells, ["group"], {}).loc[counts.index]
    out = propeller(counts, meta, "~ group", {}, reduced="~ 1")
    assert list(out) == ["~ group vs ~ 1"]
    ours = out["~ group vs ~ 1"].set_index("cell_type")
    r = pd.read_csv(REF / "propeller_anova.tsv", sep="\t").set_index("cell_type").loc[ours.index]
    for ours_col, r_col in (("stat", "Fstatistic"), ("pvalue", "P.Value"), ("padj", "FDR"),
                            ("baseline_prop", "BaselineProp")):
        np.testing.assert_allclose(ours[ours_col], r[r_col], rtol=1e-12, err_msg=ours_col)
    assert (ours.loc[["hepatocyte", "B cell"], "padj"] < 0.05).all()  # YOUNG females: hepatocytes only
    assert ours[["effect", "prop_target", "prop_reference", "prop_ratio"]].isna().all().all()


SPECKLE_MIX = {"s1": (0.5, 0.3, 0.2), "s2": (0.6, 0.3, 0.1), "s3": (0.3, 0.4, 0.3), "s4": (0.4, 0.3, 0.3),
               "s5": (0.8, 0.1, 0.1), "s6": (0.75, 0.2, 0.05)}
SPECKLE_CELLS = {"s1": 1000, "s2": 1500, "s3": 900, "s4": 1200, "s5": 1000, "s6": 800}


def _speckle_example(groups: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """speckle's own test data (tests/testthat/test-propeller*.R @3fe9cf4): samples with exactly these shares of
    clusters c0, c1, c2 and these numbers of cells; ``groups``: sample -> group."""
    counts = pd.DataFrame({s: np.round(np.array(SPECKLE_MIX[s]) * SPECKLE_CELLS[s]).astype(int) for s in groups},
                          index=["c0", "c1", "c2"]).T
    meta = pd.DataFrame({"grp": pd.Categorical(list(groups.values()))}, index=list(groups))
    return counts, meta


@pytest.mark.parametrize("kind", ["propeller_asin", "ttest", "anova"])
def test_speckles_own_snapshots(kind):
    """The outputs speckle's tests pin (tests/testthat/_snaps/*.json @3fe9cf4, written by jsonlite at 4 decimals;
    GPL-3), made without lsecflow: ``propeller(transform = "asin", robust = FALSE)`` and ``propeller.ttest(robust =
    TRUE)`` on 2 + 2 samples, ``propeller.anova(robust = TRUE)`` on three groups of 2 (F's p from chi-square: the
    robust prior df are infinite there)."""
    if kind == "anova":
        counts, meta = _speckle_example({"s1": "A", "s2": "A", "s3": "B", "s4": "B", "s5": "C", "s6": "C"})
        t = propeller(counts, meta, "~ grp", {}, reduced="~ 1")["~ grp vs ~ 1"].set_index("cell_type")
        expected = {"stat": [12.6032, 5.5049, 10.6678], "pvalue": [3.3611e-06, 0.0041, 0.0], "padj": [0, 0.0041, 0]}
    else:
        counts, meta = _speckle_example({"s1": "A", "s2": "A", "s3": "B", "s4": "B"})
        opts = {"transform": "asin", "robust": False} if kind == "propeller_asin" else {}
        t = propeller(counts, meta, "~ grp", {"ab": {"variable": "grp", "target": "A", "reference": "B"}},
                      **opts)["ab"].set_index("cell_type")
        expected = ({"stat": [3.0818, -0.7954, -2.8302], "pvalue": [0.0216, 0.4567, 0.0299],
                     "padj": [0.0449, 0.4567, 0.0449]} if kind == "propeller_asin" else
                    {"stat": [2.6089, -0.6949, -2.9701], "pvalue": [0.0402, 0.5131, 0.025],
                     "padj": [0.0603, 0.5131, 0.0603]})
        np.testing.assert_allclose(t["prop_target"], [0.55, 0.3, 0.15], atol=1e-12)
        np.testing.assert_allclose(t["prop_ratio"], [1.5714, 0.8571, 0.5], atol=5e-5)
    for column, values in expected.items():
        if column == "pvalue" and kind == "anova":
            np.testing.assert_allclose(t[column].iloc[0], values[0], rtol=5e-5)  # written as 3.3611e-06
            np.testing.assert_allclose(t[column].iloc[1:], values[1:], atol=5e-5)
        else:
            np.testing.assert_allclose(t[column], values, atol=5e-5, err_msg=column)


def test_the_transforms_are_speckles_formulas():
    counts = pd.DataFrame([[3, 0, 7], [5, 5, 0]], index=["s1", "s2"], columns=["a", "b", "c"])
    props, logit = transformed_proportions(counts)
    np.testing.assert_allclose(props.loc["s1"], [0.3, 0.0, 0.7])
    p = np.array([3.5, 0.5, 7.5]) / 11.5  # 0.5 added to every count
    np.testing.assert_allclose(logit.loc["s1"], np.log(p / (1 - p)))
    _, asin = transformed_proportions(counts, "asin")
    np.testing.assert_allclose(asin.loc["s2"], np.arcsin(np.sqrt([0.5, 0.5, 0.0])))
    with pytest.raises(ValueError, match="transform 'sqrt'"):
        transformed_proportions(counts, "sqrt")


def _bootstrap(base: pd.Series, seed: int, lsec_factor: float, n: int = 6) -> pd.DataFrame:
    """SYNTHETIC (:func:`lsecflow.synthetic.composition_samples`): ``n`` + ``n`` samples of 400 cells around the
    real TMS mix ``base``, the LSEC share times ``lsec_factor`` (PLANTED) in the tumour samples."""
    return composition_samples(base, seed, LSEC, lsec_factor, n)


def _test(synthetic: pd.DataFrame) -> pd.DataFrame:
    contrasts = {"tumour": {"variable": "condition", "target": "tumour", "reference": "control"}}
    counts = cell_counts(synthetic["sample"], synthetic["cell_type"])
    meta = sample_table(synthetic, ["condition"], contrasts).loc[counts.index]
    return propeller(counts, meta, "~ condition", contrasts)["tumour"].set_index("cell_type")


def test_a_planted_loss_of_lsecs_is_found_and_no_change_is_rarely_called(cells):
    """100 SYNTHETIC bootstraps with half the LSECs removed in 6 of 12 samples, 100 without any change (the
    same seeds every run). Measured: LSECs called (padj < 0.05) in 61 of 100, the other four types (whose shares
    rise ~12 % by renormalising) in 14 of 400 tests; without a change, 3 calls among 500 tests."""
    base = cells["cell_type"].value_counts(normalize=True).sort_index()
    found = others = null_calls = 0
    ratios = []
    for seed in range(100):
        t = _test(_bootstrap(base, seed, 0.5))
        found += bool(t.loc[LSEC, "padj"] < 0.05 and t.loc[LSEC, "stat"] < 0)
        others += int((t.drop(LSEC)["padj"] < 0.05).sum())
        ratios.append(t.loc[LSEC, "prop_ratio"])
        null_calls += int((_test(_bootstrap(base, 1000 + seed, 1.0))["padj"] < 0.05).sum())
    assert found >= 50 and others <= 0.1 * 400 and null_calls <= 0.05 * 500, (found, others, null_calls)
    assert 0.5 < np.median(ratios) < 0.62  # measured 0.578; 0.5 planted, 0.56 once the mix is renormalised


@pytest.mark.parametrize("n, seed, survives, driven_by, lost", [(6, 0, True, "", "0 of 12"),
                                                                 (3, 1, False, "s01", "2 of 6")])
def test_each_call_is_refitted_without_each_sample(cells, n, seed, survives, driven_by, lost):
    """SYNTHETIC, LSECs halved in the tumour samples: with 6 per group the call survives leaving any sample out,
    with 3 it rests on single samples (seed 1: s01). Every refit is propeller on the other samples, so the
    check is recomputed here from scratch; cell types not called get no check."""
    synthetic = _bootstrap(cells["cell_type"].value_counts(normalize=True).sort_index(), seed, 0.5, n)
    t = _test(synthetic)
    assert t.loc[LSEC, "padj"] < 0.05
    assert t.loc[LSEC, "survives"] == survives and t.loc[LSEC, "driven_by"] == driven_by
    assert t.loc[LSEC, "loo_unflagged"] == lost
    uncalled = t[t["padj"] >= 0.05]
    assert len(uncalled) >= 3 and uncalled[["survives", "driven_by", "loo_unflagged", "loo_max_padj"]].isna().all().all()
    refits = {s: _test(synthetic[synthetic["sample"] != s]).loc[LSEC] for s in sorted(set(synthetic["sample"]))}
    padj = pd.Series({s: r["padj"] for s, r in refits.items()})
    np.testing.assert_allclose(t.loc[LSEC, "loo_max_padj"], padj.max(), rtol=1e-12)
    assert sum((r["padj"] >= 0.05) or (r["effect"] > 0) for r in refits.values()) == int(lost.split()[0])
    if driven_by:
        assert padj.idxmax() == driven_by and padj[driven_by] >= 0.05


def test_within_contrasts_and_numbers_from_the_cells_obs(cells):
    """A ``within`` contrast compares the group means inside its stratum (sex among the OLD plates); a numeric
    design column carried on the cells (as ingest stores a ``numeric:`` one, float) stays a number: a slope."""
    within = {"f_old": {"variable": "sex", "target": "female", "reference": "male", "within": {"age_group": "OLD"}}}
    counts = cell_counts(cells["sample"], cells["cell_type"])
    meta = sample_table(cells, ["age_group", "sex"], within).loc[counts.index]
    t = propeller(counts, meta, "~ age_group * sex", within)["f_old"].set_index("cell_type")
    props = counts.div(counts.sum(axis=1), axis=0)
    old = meta["age_group"] == "OLD"
    np.testing.assert_allclose(t["prop_target"], props[old & (meta["sex"] == "female")].mean().loc[t.index])
    np.testing.assert_allclose(t["prop_reference"], props[old & (meta["sex"] == "male")].mean().loc[t.index])
    plates = sorted(cells["sample"].unique())
    dose = cells.assign(dose=cells["sample"].map({p: float(i) for i, p in enumerate(plates)}))
    meta = sample_table(dose, ["dose"], {}).loc[counts.index]
    assert meta["dose"].dtype == float
    slope = propeller(counts, meta, "~ dose", {"dose": {"variable": "dose"}})["dose"]
    assert np.isfinite(slope["stat"]).all() and slope["prop_ratio"].isna().all()


def test_a_slope_has_no_group_means_and_one_cell_type_is_refused(cells):
    counts = cell_counts(cells["sample"], cells["cell_type"])
    meta = pd.DataFrame({"dose": np.arange(len(counts), dtype=float)}, index=counts.index)
    t = propeller(counts, meta, "~ dose", {"dose": {"variable": "dose"}})["dose"]
    assert t[["prop_target", "prop_reference", "prop_ratio"]].isna().all().all()
    assert np.isfinite(t["stat"]).all() and list(t.columns) == COLUMNS
    with pytest.raises(UnfittableFit, match="1 cell type: proportions need at least 2"):
        propeller(counts[[LSEC]], meta, "~ dose", {"dose": {"variable": "dose"}})


def test_the_rule_entry_point_counts_what_the_workflow_counts(tms_pseudobulk, tmp_path, caplog):
    """Cells failing QC and samples in qc.exclude are left out; a contrast the remaining samples cannot test is
    named in a warning and absent from the table; the figure is written in every configured format."""
    ds, folder, adata = tms_pseudobulk
    failing = list(adata.obs_names[:40])
    qc = pd.DataFrame({"cell": adata.obs_names, "qc_pass": ~adata.obs_names.isin(failing), "qc_reason": ""})
    qc.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    params = ds.params(rule="composition")
    params["spec"]["qc"]["exclude"] = ["11"]
    params["spec"]["contrasts"]["young_vs_young"] = {"variable": "sex", "target": "female", "reference": "male",
                                                     "within": {"age_group": "YOUNG"}}
    params["spec"]["design"], params["design_columns"] = "~ age_group + sex", ["age_group", "sex"]
    params["spec"]["de"].update(test="lrt", reduced="~ sex")  # the design test: age group's term
    out = {k: tmp_path / f"{k}.tsv" for k in ("table", "cells")}
    png = tmp_path / "proportions.png"
    with caplog.at_level(logging.INFO, logger="lsecflow"):
        run_composition(str(folder / "counts.h5ad"), guard_params(params), str(out["table"]), str(out["cells"]),
                        str(png), cells_qc=str(tmp_path / "cells.tsv"))
    per_sample = pd.read_csv(out["cells"], sep="\t", dtype={"sample": str})
    kept = adata.obs[~adata.obs_names.isin(failing) & (adata.obs["sample"].astype(str) != "11")]
    expected = {(str(s), str(c)): n for (s, c), n in kept.groupby(["sample", "cell_type"], observed=True).size().items()}
    got = {(r.sample, r.cell_type): r.n_cells for r in per_sample.itertuples() if r.n_cells > 0}
    assert got == expected and len(per_sample) == 15 * 5  # every sample x cell type, zeros included
    assert "11" not in set(per_sample["sample"]) and "samples left out by qc.exclude: 11" in caplog.text
    np.testing.assert_allclose(per_sample.groupby("sample")["proportion"].sum(), 1.0)
    table = pd.read_csv(out["table"], sep="\t")
    assert set(table["contrast"]) == {"old_vs_young", "~ age_group + sex vs ~ sex"} and list(table.columns) == COLUMNS
    by = table.set_index(["contrast", "cell_type"])
    np.testing.assert_allclose(by.loc["~ age_group + sex vs ~ sex", "pvalue"], by.loc["old_vs_young", "pvalue"],
                               rtol=1e-10)  # one coefficient: F = t^2, the same p
    assert table.loc[0, "cell_type"] == LSEC  # LSECs first
    # YOUNG without plate 11: 56 and 57 female, 9 male -> one male sample
    assert "contrast young_vs_young (sex female vs male within age_group YOUNG) not tested" in caplog.text
    for ext, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF-")):
        assert png.with_suffix(f".{ext}").read_bytes()[:len(magic)] == magic


def test_the_rule_entry_point_takes_de_block_from_the_cells(tms_pseudobulk, tmp_path, caplog):
    """With ``de.block`` the rule reads each sample's block from the cells' obs (the sheet joined it onto them) and
    fits it; a block that cannot be estimated (every sample in one) is a warning and no test, not a crash."""
    ds, folder, adata = tms_pseudobulk
    params = ds.params(rule="composition")
    params["spec"]["de"]["block"] = "sex"
    out = {k: tmp_path / f"{k}.tsv" for k in ("table", "cells")}
    with caplog.at_level(logging.INFO, logger="lsecflow"):
        run_composition(str(folder / "counts.h5ad"), guard_params(params), str(out["table"]), str(out["cells"]),
                        str(tmp_path / "proportions.png"))
    assert "composition with blocks: block 'sex' (2 blocks of" in caplog.text
    table = pd.read_csv(out["table"], sep="\t").set_index("cell_type")
    r = pd.read_csv(REF / "propeller_block.tsv", sep="\t").set_index("cell_type").loc[table.index]
    np.testing.assert_allclose(table["stat"], r["t"], rtol=1e-8)
    one = adata.copy()
    one.obs["sex"] = "female"
    one.write_h5ad(tmp_path / "one_block.h5ad")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lsecflow"):
        run_composition(str(tmp_path / "one_block.h5ad"), guard_params(params), str(out["table"]), str(out["cells"]),
                        str(tmp_path / "proportions.png"))
    assert "composition: no test (de.block 'sex': all 16 samples are in one block" in caplog.text
    assert pd.read_csv(out["table"], sep="\t").empty
