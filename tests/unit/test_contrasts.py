"""lsecflow.contrasts: contrasts in a design with an interaction (``within``: a simple effect; ``interaction``: the
difference of two) and the slope of a numeric column, through DESeq2, limma-voom and edgeR against R, and the
parse-time refusals that keep a contrast's meaning from hanging on which level happens to be the base.

Real data: the DLPC counts with the SYNTHETIC balanced ``batch`` of tests/data/deseq2_reference (no real batch
effect), design ``~ batch + Group + batch:Group``; R's tables from tests/data/interaction/make_reference.R
(DESeq2 1.38.3, limma 3.54.1, edgeR 3.40.2); for the slope, the SYNTHETIC ``weight`` of the same folder and
tests/data/slope/make_reference.R. The small frames in the first tests are SYNTHETIC.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import patsy
import pytest
from helpers import DLPC_COUNTS, DLPC_SHEET, REPO, assert_like_r, dlpc_dataset, load_datasets, load_one, ups1_dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from lsecflow import contrasts, de, de_edger, de_voom
from lsecflow.calls import group_sizes, sizes_note
from lsecflow.de_inputs import count_unit
from lsecflow.errors import ConfigError
from lsecflow.figures import unit_matrix
from lsecflow.formula import design_matrix
from lsecflow.ingest import build_counts
from lsecflow.methods import methods_text
from lsecflow.plots import fold_change_label
from lsecflow.trust import leave_one_out

REF = REPO / "tests/data/interaction"
WITHIN = {"variable": "Group", "target": "Disease", "reference": "Chow", "within": {"batch": "b2"}}
INTERACTION = {"variable": "Group", "target": "Disease", "reference": "Chow",
               "interaction": {"variable": "batch", "target": "b2", "reference": "b1"}}
CONTRASTS = {"disease_in_b2": WITHIN,
             "agonist_vs_disease_b2": {**WITHIN, "target": "Disease/Agonist", "reference": "Disease"},
             "disease_by_batch": INTERACTION}
DESIGN = "~ batch + Group + batch:Group"


def toy() -> pd.DataFrame:
    """SYNTHETIC: 2 genotypes x 2 treatments x 2 replicates, plus a numeric covariate."""
    return pd.DataFrame({"genotype": pd.Categorical(["WT"] * 4 + ["KO"] * 4, categories=["WT", "KO"]),
                         "treatment": pd.Categorical(["ctrl", "ctrl", "TNF", "TNF"] * 2, categories=["ctrl", "TNF"]),
                         "age": np.arange(8.0)}, index=[f"s{i}" for i in range(8)])


def test_what_a_contrast_compares_and_which_column_carries_it():
    obs = toy()
    simple = {"variable": "treatment", "target": "TNF", "reference": "ctrl", "within": {"genotype": "KO"}}
    inter = {"variable": "treatment", "target": "TNF", "reference": "ctrl",
             "interaction": {"variable": "genotype", "target": "KO", "reference": "WT"}}
    assert contrasts.bases(simple) == {"treatment": "ctrl", "genotype": "KO"}
    assert contrasts.bases(inter) == {"treatment": "ctrl", "genotype": "WT"}
    also_ctrl = dict(simple)  # another name, the same base levels: one fit serves both
    assert contrasts.by_bases({"a": simple, "i": inter, "b": also_ctrl}) == [
        ({"genotype": "KO", "treatment": "ctrl"}, ["a", "b"]), ({"genotype": "WT", "treatment": "ctrl"}, ["i"])]
    names = ["Intercept", "genotype[T.KO]", "treatment[T.TNF]", "genotype[T.KO]:treatment[T.TNF]"]
    assert contrasts.coefficient(names, simple) == "treatment[T.TNF]"
    assert contrasts.coefficient(names, inter) == "genotype[T.KO]:treatment[T.TNF]"
    assert contrasts.coefficient([n.replace("genotype[T.KO]:treatment[T.TNF]", "treatment[T.TNF]:genotype[T.KO]")
                                  for n in names], inter) == "treatment[T.TNF]:genotype[T.KO]"
    with pytest.raises(ValueError, match="contrast 'x': no coefficient 'genotype\\[T.KO\\]:treatment"):
        contrasts.coefficient(names[:3], inter, "x")
    cells = contrasts.cells(obs, inter)
    assert list(cells) == ["treatment TNF, genotype KO", "treatment TNF, genotype WT", "treatment ctrl, genotype KO",
                           "treatment ctrl, genotype WT"]
    assert [int(m.sum()) for m in cells.values()] == [2, 2, 2, 2]
    assert group_sizes(obs, simple) == {"n_target": 2, "n_reference": 2}
    assert group_sizes(obs, inter) == {"n_target": 4, "n_reference": 4,
                                       "n_by_level": "2 vs 2 samples in genotype KO, 2 vs 2 in genotype WT"}
    one_left = group_sizes(obs.iloc[1:], inter)  # the totals (4 vs 3) would not say which cell has one sample
    assert sizes_note(pd.Series(one_left)) == "; 2 vs 2 samples in genotype KO, 2 vs 1 in genotype WT", one_left
    slope = {"variable": "age", "interaction": inter["interaction"]}
    assert group_sizes(obs, slope)["n_by_level"] == "4 samples in genotype KO, 4 in genotype WT"
    assert contrasts.describe(simple) == "treatment TNF vs ctrl within genotype KO"
    assert contrasts.describe(inter) == "treatment TNF vs ctrl in genotype KO minus in genotype WT (interaction)"
    assert contrasts.short(simple) == "TNF vs ctrl within genotype KO"  # figure and report titles
    assert contrasts.short(inter) == "TNF vs ctrl, genotype KO minus WT"
    assert contrasts.group_columns(inter) == ["treatment", "genotype"]  # figures label samples by both


def test_the_contrast_vector_gives_the_same_effect_in_any_parametrisation():
    """L @ beta from the model with WT / ctrl as bases equals the coefficient of the model whose bases make the
    contrast one column, on SYNTHETIC values; an age slope beside the factors changes nothing."""
    obs = toy()
    y = np.random.default_rng(1).normal(size=(8, 5))
    design = "~ age + genotype + treatment + genotype:treatment"
    X = patsy.dmatrix(design, obs)
    beta = np.linalg.lstsq(np.asarray(X), y, rcond=None)[0]
    for c in ({"variable": "treatment", "target": "TNF", "reference": "ctrl", "within": {"genotype": "KO"}},
              {"variable": "genotype", "target": "WT", "reference": "KO", "within": {"treatment": "TNF"}},
              {"variable": "treatment", "target": "TNF", "reference": "ctrl",
               "interaction": {"variable": "genotype", "target": "KO", "reference": "WT"}}):
        L = contrasts.contrast_vector(X.design_info, obs, c)
        Xc = design_matrix(obs, design, contrasts.bases(c))
        j = Xc.design_info.column_names.index(contrasts.coefficient(Xc.design_info.column_names, c))
        expected = np.linalg.lstsq(np.asarray(Xc), y, rcond=None)[0][j]
        np.testing.assert_allclose(L @ beta, expected, atol=1e-12)
        assert set(np.unique(L)) <= {-1.0, 0.0, 1.0}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_crossed_design_gives_one_effect_in_every_parametrisation(data):
    """SYNTHETIC crossed designs of 2-3 factors (2-3 levels, 2 samples per cell), main effects and a drawn set of
    two-way interactions, a drawn contrast that fixes each partner (within) or tests one (interaction): the
    parse-time check accepts it and refuses it with a partner left loose; L @ beta of the default parametrisation
    equals the coefficient of the one :func:`contrasts.bases` makes, the value of the cell means the contrast
    names."""
    import itertools

    k = data.draw(st.integers(2, 3))
    names = ["a", "b", "c"][:k]
    levels = {n: [f"{n}{i}" for i in range(data.draw(st.integers(2, 3), label=f"levels of {n}"))] for n in names}
    rows = [dict(zip(names, cell)) for cell in itertools.product(*levels.values()) for _ in range(2)]
    obs = pd.DataFrame(rows, index=[f"s{i}" for i in range(len(rows))]).astype("category")
    pairs = [p for p in itertools.combinations(names, 2) if "a" in p]
    chosen = data.draw(st.lists(st.sampled_from(pairs), min_size=1, unique=True))
    design = "~ " + " + ".join(names + [":".join(p) for p in chosen])
    target, reference = data.draw(st.permutations(levels["a"]))[:2]
    contrast = {"variable": "a", "target": target, "reference": reference}
    partners = [q for p in chosen for q in p if q != "a"]
    tested = data.draw(st.sampled_from([None] + partners))
    if tested:
        it, ir = data.draw(st.permutations(levels[tested]))[:2]
        contrast["interaction"] = {"variable": tested, "target": it, "reference": ir}
    within = {q: data.draw(st.sampled_from(levels[q])) for q in partners if q != tested}
    if within:
        contrast["within"] = within
    sheet = obs.astype(str)
    contrasts.check("c", contrast, design, sheet, [], "test")
    if within:
        with pytest.raises(ConfigError, match="say at which level it is taken"):
            contrasts.check("c", {**contrast, "within": dict(list(within.items())[1:]) or None}, design, sheet, [],
                            "test")
    y = np.random.default_rng(len(rows)).normal(size=(len(rows), 3))
    X = design_matrix(obs, design)
    beta = np.linalg.lstsq(np.asarray(X), y, rcond=None)[0]
    L = contrasts.contrast_vector(X.design_info, obs, contrast)
    Xc = design_matrix(obs, design, contrasts.bases(contrast))
    j = Xc.design_info.column_names.index(contrasts.coefficient(Xc.design_info.column_names, contrast))
    np.testing.assert_allclose(L @ beta, np.linalg.lstsq(np.asarray(Xc), y, rcond=None)[0][j], atol=1e-10)
    means = {lv: y[contrasts.cells(obs, contrast)[lv]].mean(axis=0) for lv in contrasts.cells(obs, contrast)}
    if len(chosen) == len(pairs) and k == 2:  # saturated: the coefficient is the cell means' difference(s)
        m = list(means.values())
        expected = m[0] - m[1] if len(m) == 2 else (m[0] - m[2]) - (m[1] - m[3])
        np.testing.assert_allclose(L @ beta, expected, atol=1e-10)


@pytest.fixture(scope="module")
def interaction_dataset(tmp_path_factory):
    """The DLPC dataset with the SYNTHETIC batch in its sheet, the interaction design and the three contrasts."""
    tmp = tmp_path_factory.mktemp("interaction")
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    batch = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_batch_sheet.tsv.gz", sep="\t", dtype=str)
    sheet["batch"] = sheet.iloc[:, 0].map(batch.set_index("sample")["batch"])
    sheet.to_csv(tmp / "sheet.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp / "sheet.tsv", design=DESIGN, contrasts=CONTRASTS)
    ds = load_datasets({"dlpc_liver": spec}).datasets["dlpc_liver"]
    assert ("Differential expression (Group Disease vs Chow within batch b2; Group Disease/Agonist vs Disease within "
            "batch b2; Group Disease vs Chow in batch b2 minus in batch b1 (interaction)) was tested"
            ) in " ".join(methods_text(ds.spec, {}))
    adata, _ = build_counts(ds.params())
    return spec, ds, adata


def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.tsv.gz", sep="\t", index_col=0)


def test_deseq2_takes_each_contrast_as_r_does(interaction_dataset):
    """results(contrast = list(...)) / results(name = "batchb2.GroupDisease") in R, and after the LRT of the
    interaction term results(contrast = list(...)): its p-values with the contrast's log2FC."""
    _, ds, adata = interaction_dataset
    dds = de.fit_model(adata, DESIGN, ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    for name in CONTRASTS:
        assert_like_r(de.contrast_results(dds, ds.contrasts[name], ds.spec["de"]), reference(f"deseq2_{name}"), name)
    assert (reference("deseq2_disease_by_batch")["padj"] < 0.05).sum() == 6  # the SYNTHETIC batch: no real effect
    lrt = {**ds.spec["de"], "test": "lrt", "reduced": "~ batch + Group"}
    fit = de.fit_model(adata, DESIGN, ds.design_columns, lrt, contrasts=ds.contrasts)
    assert_like_r(de.contrast_results(fit, WITHIN, lrt), reference("deseq2_lrt_disease_in_b2"), "LRT")
    top = list(de.contrast_results(dds, WITHIN, ds.spec["de"])["gene_id"][:3])
    loo = leave_one_out(dds, DESIGN, {"disease_in_b2": WITHIN}, {"disease_in_b2": top})
    assert set(loo["left_out"]) == set(adata.obs_names[(adata.obs["batch"] == "b2")
                                                       & adata.obs["Group"].isin(["Disease", "Chow"])])


@pytest.mark.parametrize("engine", ["voom", "edger"])
def test_voom_and_edger_take_the_contrast_coefficient_as_r_does(interaction_dataset, engine):
    """limma-voom and edgeR QL with the base levels that make each contrast one coefficient, as R's relevel +
    coef (9 significant digits written: 1e-6 relative)."""
    _, ds, adata = interaction_dataset
    unit = count_unit(adata, ds.params(rule="de"), list(CONTRASTS))
    wanted = {n: unit.contrasts[n] for n in ("disease_in_b2", "disease_by_batch")}
    if engine == "voom":
        tables = de_voom.voom_tables(unit.counts, unit.meta, DESIGN, wanted, ds.spec["de"], unit.symbols).tables
        tables = {n: t.set_index("gene_id") for n, t in tables.items()}
    else:
        tables, _ = de_edger.contrast_tables(unit.counts, unit.meta, DESIGN, wanted, {})
    for name in wanted:
        ref = reference(f"{engine}_{name}")
        ours = tables[name].loc[ref.index]
        for col in ("log2FoldChange", "pvalue", "padj"):
            np.testing.assert_allclose(ours[col], ref[col], rtol=1e-6, atol=1e-7, err_msg=f"{name} {col}")


def test_a_contrast_in_an_interaction_design_must_say_where_it_is_taken(interaction_dataset, tmp_path):
    spec, _, adata = interaction_dataset
    plain = {"variable": "Group", "target": "Disease", "reference": "Chow"}

    def refused(contrast: dict, *needles: str, design: str = DESIGN, **extra) -> None:
        with pytest.raises(ConfigError) as err:
            load_datasets({"dlpc_liver": {**spec, "design": design, "contrasts": {"c": contrast}, **extra}})
        for needle in needles:
            assert needle in str(err.value), str(err.value)

    refused(plain, "contrast 'c': the design '~ batch + Group + batch:Group' lets the Group effect differ between "
            "levels of 'batch' (term batch:Group): say at which level it is taken (contrasts.c.within: {batch: "
            "<level>}; levels: b1, b2) or test how much it differs (contrasts.c.interaction: {variable: batch, "
            "target: <level>, reference: <level>})")
    refused({**WITHIN, "within": {"batch": "b3"}}, "key 'contrasts.c.within.batch': level 'b3' is absent")
    refused(WITHIN, "key 'contrasts.c.within.batch': the design '~ batch + Group' has no interaction of 'Group' "
            "with 'batch'", design="~ batch + Group")
    refused(INTERACTION, "key 'contrasts.c.interaction.target': the design '~ batch + Group' has no interaction",
            design="~ batch + Group")
    refused({**INTERACTION, "interaction": {"variable": "batch", "target": "b2", "reference": "b2"}},
            "target and reference are the same level 'b2'")
    refused({**WITHIN, "within": {"Group": "Chow"}}, "column 'Group' is the contrast's own variable")
    load_datasets({"dlpc_liver": {**spec, "design": "~ batch + Group", "contrasts": {"c": plain}}})  # no term
    sheet = pd.read_csv(spec["samples"]["sheet"], sep="\t")
    sheet["dose"] = np.linspace(0.5, 3, len(sheet))  # SYNTHETIC
    sheet.to_csv(tmp_path / "dose.tsv", sep="\t", index=False)
    refused(plain, "the design '~ dose + Group + dose:Group' lets the Group effect change with the number 'dose' "
            "(term dose:Group), so a Group contrast would be taken at dose = 0", design="~ dose + Group + dose:Group",
            numeric=["dose"], samples={**spec["samples"], "sheet": str(tmp_path / "dose.tsv")})
    assert contrasts.too_few(adata[adata.obs["batch"] == "b1"].obs, WITHIN) == (
        "group 'Group Disease, batch b2' has 0 sample(s); DESeq2 needs at least 2 per group")


def test_a_numeric_columns_slope_as_r_does(tmp_path):
    """numeric: [weight] (SYNTHETIC, no real effect), design ~ weight + Group, a contrast without target and
    reference: the log2 fold change per unit, as R's topTable(coef = "weight") / glmQLFTest(coef = "weight") (and
    results(name = "weight"): test_de.py, on the same fit); a slope with a target, or levels without one, is
    refused."""
    sheet = pd.read_csv(DLPC_SHEET, sep="\t", dtype=str)
    weight = pd.read_csv(REPO / "tests/data/deseq2_reference/synthetic_numeric_sheet.tsv.gz", sep="\t", dtype=str)
    sheet["weight"] = sheet.iloc[:, 0].map(weight.set_index("sample")["weight"])
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    slope = {"variable": "weight"}
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "sheet.tsv", design="~ weight + Group", numeric=["weight"],
                        contrasts={"per_gram": slope, "disease_vs_chow": {"variable": "Group", "target": "Disease",
                                                                          "reference": "Chow"}})
    ds = load_datasets({"dlpc_liver": spec}).datasets["dlpc_liver"]
    assert "weight slope (log2 fold change per unit)" in " ".join(methods_text(ds.spec, {}))
    assert contrasts.short(slope) == "weight slope" and contrasts.group_columns(slope) == []
    adata, _ = build_counts(ds.params())
    assert group_sizes(adata.obs, slope) == {"n_target": 20, "n_reference": 0}
    adata.write_h5ad(tmp_path / "counts.h5ad")  # the DE heatmap's samples: one group, in the order of the number
    pd.DataFrame(np.ones((2, 20)), index=["g1", "g2"], columns=adata.obs_names).to_csv(tmp_path / "vst.tsv", sep="\t")
    vst, groups = unit_matrix(pd.DataFrame({"gene_id": ["g1"]}), str(tmp_path / "vst.tsv"),
                              str(tmp_path / "counts.h5ad"), slope, False)
    assert adata.obs.loc[vst.columns, "weight"].is_monotonic_increasing and not vst.columns.equals(adata.obs_names)
    assert set(groups) == {"samples by increasing weight"}
    assert fold_change_label(slope) == "log2 fold change per unit of weight"  # the volcano's and MA plot's axis
    assert contrasts.too_few(adata[:2].obs, slope) == (
        "'weight (slope)' has 2 sample(s) and 2 distinct value(s) of 'weight'; DESeq2 needs at least 3 samples and 2 "
        "values for a slope")
    # DESeq2's slope against R: test_de.py::test_numeric_covariate_matches_deseq2 (the same fit); here the
    # refits keep the number in the design (was a crash), on the 400 most expressed genes (a fit of 1 s, not 10)
    dds = de.fit_model(adata[:, np.asarray(adata.X.sum(axis=0)).ravel().argsort()[::-1][:400]].copy(), ds.spec["design"],
                       ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    slope_ref = REPO / "tests/data/slope"
    top = list(de.contrast_results(dds, slope, ds.spec["de"])["gene_id"][:2])
    loo = leave_one_out(dds, ds.spec["design"], {"per_gram": slope}, {"per_gram": top})
    assert len(loo) == 2 * 20 and np.isfinite(loo["log2FoldChange"]).all()
    unit = count_unit(adata, ds.params(rule="de"), ["per_gram"])
    voom_tables = de_voom.voom_tables(unit.counts, unit.meta, ds.spec["design"], unit.contrasts, ds.spec["de"],
                                      unit.symbols).tables
    edger_tables, _ = de_edger.contrast_tables(unit.counts, unit.meta, ds.spec["design"], unit.contrasts, {})
    assert edger_tables["per_gram"]["stat"].notna().all()  # one gene's F is -3.9e-9 (R's too): stat 0, not NaN
    for engine, table in (("voom", voom_tables["per_gram"].set_index("gene_id")), ("edger", edger_tables["per_gram"])):
        ref = pd.read_csv(slope_ref / f"{engine}_weight.tsv.gz", sep="\t", index_col=0)
        for col in ("log2FoldChange", "pvalue", "padj"):
            np.testing.assert_allclose(table.loc[ref.index, col], ref[col], rtol=1e-6, atol=1e-7, err_msg=engine)
    with pytest.raises(ConfigError, match="key 'contrasts.c.target': column 'weight' is numeric .* its contrast is its "
                                          "slope, the log2 fold change per unit, with no target or reference"):
        load_datasets({"dlpc_liver": {**spec, "contrasts": {"c": {"variable": "weight", "target": "20"}}}})
    with pytest.raises(ConfigError, match="key 'contrasts.c': a contrast on the categorical column 'Group' needs "
                                          "target and reference"):
        load_datasets({"dlpc_liver": {**spec, "contrasts": {"c": {"variable": "Group", "target": "Disease"}}}})


def test_a_contrast_without_replicates_stops_at_start_up(tmp_path):
    """A level left with one sample (here by qc.exclude) stopped the DE job after ingest and QC had run (found by
    bench/fuzz_proteins.py --table report); the start-up check names the contrast, the level, the engine and the
    sheet, bulk (DLPC) and proteomics (UPS1) alike."""
    chow = ["Sample720", "Sample745", "Sample746", "Sample747", "Sample770", "Sample773"]  # Sample774 left
    spec = dlpc_dataset(DLPC_COUNTS, qc={"exclude": chow})
    with pytest.raises(ConfigError, match=re.escape("key 'contrasts.disease_vs_chow': level 'Chow' of 'Group' has 1 "
                                                    "sample(s); DESeq2 needs at least 2 per level (sample sheet")) as e:
        load_datasets({"d": spec})
    assert "after qc.exclude)" in str(e.value)
    with pytest.raises(ConfigError, match=re.escape("level 'fmol25' of 'group' has 1 sample(s); limma needs at "
                                                    "least 2 per level")):
        load_one(tmp_path, ups1_dataset(qc={"exclude": ["C_R1", "C_R2"]}))
