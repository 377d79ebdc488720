"""Config validation and ingest, as functions (no Snakemake)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import DLPC_COUNTS, REPO, dlpc_dataset, tms_dataset
from lsecflow.annotation import annotate_genes, make_unique_symbols, strip_version
from lsecflow.config import load_config, slugify
from lsecflow.errors import ConfigError
from lsecflow.formula import parse_design
from lsecflow.ingest import build_counts
from lsecflow.rule_params import RULE_SPEC_KEYS, UndeclaredKeyError, guard_params


def load(datasets: dict, **top):
    return load_config({"datasets": datasets, **top}, roots=[REPO])


def test_yaml_exponent_without_point_is_named_with_its_fix():
    """PyYAML reads `eps: 1e-50` as the text '1e-50'; the error says so and how to write it."""
    spec = dlpc_dataset(DLPC_COUNTS)
    spec["enrichment"] = yaml.safe_load("eps: 1e-50\npermutations: 2e3\n")
    assert spec["enrichment"]["eps"] == "1e-50"  # the YAML pitfall itself
    with pytest.raises(ConfigError) as err:
        load({"dlpc_liver": spec})
    msg = str(err.value)
    assert "key 'enrichment.eps': '1e-50' is not of type 'number' (YAML reads a number with an exponent but no " \
           "decimal point as text: write 1.0e-50)" in msg
    # an integer key gets no such hint: 2.0e3 would still not be an integer
    assert "key 'enrichment.permutations': '2e3' is not of type 'integer'" in msg and "write 2.0e3" not in msg
    spec["enrichment"] = yaml.safe_load("eps: 1.0e-50\n")
    assert load({"dlpc_liver": spec}).datasets["dlpc_liver"].spec["enrichment"]["eps"] == 1e-50


def test_shipped_config_validates_with_defaults():
    cfg = load_config(yaml.safe_load((REPO / "config/config.yaml").read_text()), roots=[REPO])
    assert set(cfg.datasets) == {"dlpc_liver", "tms_liver"}
    dlpc = cfg.datasets["dlpc_liver"]
    assert dlpc.format == "tsv" and dlpc.design_columns == ["Group"]
    assert dlpc.spec["samples"]["rename"] == {"Sample724": "Sample725"}
    assert set(dlpc.contrasts) == {"disease_vs_chow", "agonist_vs_chow", "agonist_vs_disease"}
    assert dlpc.contrasts["agonist_vs_disease"] == {"variable": "Group", "target": "Disease/Agonist",
                                                    "reference": "Disease"}
    tms = cfg.datasets["tms_liver"]
    assert list(tms.cell_types.values())[0] == "endothelial cell of hepatic sinusoid"
    assert len(tms.cell_types) == 5
    assert cfg.config["compute"] == {"threads": 2, "seed": 0, "gpu": "auto", "pseudobulk_chunk": 100000}  # defaults


def shipped():
    return load_config(yaml.safe_load((REPO / "config/config.yaml").read_text()), roots=[REPO])


def test_rule_params_hold_only_the_declared_keys():
    dlpc = shipped().datasets["dlpc_liver"]
    p = dlpc.params(rule="enrichment")
    assert set(p["spec"]) == {"assay", "species", "enrichment", "de"}
    assert p["spec"]["de"] == {"alpha": 0.05, "lfc_threshold": dlpc.spec["de"]["lfc_threshold"]}
    assert p["spec"]["enrichment"] == dlpc.spec["enrichment"] and p["rule"] == "enrichment"
    ingest = dlpc.params(rule="ingest")["spec"]
    assert set(ingest["qc"]) == {"markers"} and "figures" not in ingest and "paracrine" not in ingest
    # plain dicts: Snakemake compares and stores them as parameters
    assert type(p["spec"]) is dict and type(p["spec"]["de"]) is dict


def test_scoped_spec_refuses_undeclared_keys_loudly():
    spec = guard_params(shipped().datasets["dlpc_liver"].params(rule="enrichment"))["spec"]
    assert spec["de"]["alpha"] == 0.05 and spec.get("enrichment")["method"] == "multilevel"
    for read in (lambda: spec["qc"], lambda: spec.get("figures"), lambda: "paracrine" in spec,
                 lambda: spec["de"]["min_count"], lambda: spec["de"].get("shrink", False)):
        with pytest.raises(UndeclaredKeyError, match=r"rule 'enrichment' reads dataset key '(qc|figures|paracrine|"
                                                     r"de\.min_count|de\.shrink)'"):
            read()
    assert not issubclass(UndeclaredKeyError, LookupError)  # an `except KeyError` cannot swallow it


def test_rule_spec_keys_exist_and_match_the_rules():
    cfg = shipped()
    for rule, keys in RULE_SPEC_KEYS.items():
        for key in keys:
            section, _, sub = key.partition(".")
            holders = [d for d in cfg.datasets.values() if section in d.spec and (not sub or sub in d.spec[section])]
            assert holders, f"RULE_SPEC_KEYS[{rule!r}] names {key!r}, which no shipped dataset has"
    import re
    used = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        for block in [b for b in re.split(r"(?m)^(?=\s*rule\b)", text) if b.lstrip().startswith("rule")]:
            # a rule made in a loop (one per dataset) is named by a function: dataset_rule_name() -> de_<dataset>
            named = re.match(r"\s*rule (\w+):", block) or re.search(r'name:\s+dataset_rule_name\("(\w+)"', block)
            name = named.group(1)
            for arg in re.findall(r'rule_params\("(\w+)"\)', block):
                assert arg == name, f"{smk.name}: rule {name} uses rule_params({arg!r})"
                used.add(arg)
    assert used == set(RULE_SPEC_KEYS)


@pytest.mark.parametrize("design, error", [
    ("~ Group", None),
    ("~Group", None),
    ("~ 1", None),
    ("Group", "must start with '~'"),
    ("~ log(Group)", "not allowed"),
    ("~ Group + exec('x')", "not allowed"),
    ("~ Group * batch", "not allowed"),
    ("~ batch", "'batch' of '~ batch' is not in the sample sheet"),
])
def test_design_formula_is_checked_as_text(design, error):
    if error is None:
        assert parse_design(design, ["sample", "Group"]) in (["Group"], [])
    else:
        with pytest.raises(ConfigError, match=error):
            parse_design(design, ["sample", "Group"])


def test_interaction_term_columns():
    assert parse_design("~ batch + Group + batch:Group", ["batch", "Group"]) == ["batch", "Group"]


def test_contrast_variable_must_be_in_design(tmp_path):
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv")
    spec["contrasts"]["by_batch"] = {"variable": "batch", "target": "a", "reference": "b"}
    with pytest.raises(ConfigError, match="column 'batch' is not in the design"):
        load({"d": spec})


@pytest.mark.parametrize("de, error", [
    ({"test": "lrt"}, "key 'de.test' is 'lrt', which needs a reduced design: add de.reduced"),
    ({"test": "lrt", "reduced": "~ batch + Group"}, "'de.reduced': '~ batch \\+ Group' has every term"),
    ({"test": "lrt", "reduced": "~ Group + sex"}, "column 'sex' of '~ Group \\+ sex' is not in the sample sheet"),
    ({"test": "lrt", "reduced": "~ batch"}, None),
    ({"reduced": "~ batch"}, "key 'de.reduced' is set but de.test is 'wald'"),
    ({"fit_type": "local"}, "'local' is not one of \\['parametric', 'mean'\\]"),
    ({"shrink": "ashr"}, "'ashr' is not one of"),
])
def test_de_test_and_options_checked_before_any_job(tmp_path, de, error):
    """de.test / de.reduced / de.fit_type / de.shrink are refused at parse time with the key and the fix."""
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv", design="~ batch + Group")
    spec["de"] = {**spec.get("de", {}), **de}
    if error is None:
        assert load({"d": spec}).datasets["d"].spec["de"]["reduced"] == "~ batch"
    else:
        with pytest.raises(ConfigError, match=error):
            load({"d": spec})


def test_shrinkage_refused_for_interaction_designs(tmp_path):
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv", design="~ batch + Group + batch:Group")
    spec["de"] = {**spec.get("de", {}), "shrink": "normal"}
    with pytest.raises(ConfigError, match="key 'de.shrink': LFC shrinkage is not available for a design with "
                                          "interaction terms \\(batch:Group"):
        load({"d": spec})


def test_dataset_file_missing():
    with pytest.raises(ConfigError, match="does not exist"):
        load({"d": "config/datasets/nope.yaml"})


def test_single_cell_needs_a_sample_source():
    spec = tms_dataset()
    spec["single_cell"].pop("sample_from_cell_name")
    with pytest.raises(ConfigError, match="sample_key"):
        load({"tms": spec})


def test_single_cell_lsec_label_must_exist():
    spec = tms_dataset()
    spec["single_cell"]["lsec_label"] = "LSEC"
    with pytest.raises(ConfigError, match="lsec_label.*'LSEC' is not a value"):
        load({"tms": spec})


def test_single_cell_sheet_disagreeing_with_obs(tmp_path):
    sheet = pd.read_csv(REPO / "config/samples/tms_liver.tsv", sep="\t")
    sheet.loc[sheet["sample"] == "B000767", "sex"] = "male"  # the cells say female
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    ds = load({"tms": tms_dataset(sheet=tmp_path / "s.tsv")}).datasets["tms"]
    with pytest.raises(Exception, match="obs column 'sex'.*'female'.*B000767"):
        build_counts(ds.params())


def test_slugify():
    assert slugify("endothelial cell of hepatic sinusoid") == "endothelial_cell_of_hepatic_sinusoid"
    assert slugify("CD4+ T cell") == "CD4_T_cell"


def test_ingest_dlpc_real():
    ds = load({"dlpc_liver": dlpc_dataset(DLPC_COUNTS)}).datasets["dlpc_liver"]
    adata, report = build_counts(ds.params())
    raw = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0)
    assert adata.shape == (20, 53700)
    assert adata.X.dtype == np.int64
    assert "Sample725" in adata.obs_names and "Sample724" not in adata.obs_names
    np.testing.assert_array_equal(adata["Sample725"].X.ravel(), raw["Sample724"].to_numpy())
    assert adata.obs.loc["Sample725", "Group"] == "Disease"
    assert list(adata.obs_names) == list(pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")["sample"])
    assert adata.var.loc["ENSMUSG00000000001.5", "symbol"] == "Gnai3"
    assert adata.var["symbol"].is_unique
    assert report["n_duplicated_symbols"] > 0 and report["n_unmapped"] > 0


def test_duplicate_symbols_resolved_by_total_count():
    symbols = pd.Series(["A", "B", "A", "A"], index=["g1", "g2", "g3", "g4"])
    totals = pd.Series([5, 1, 9, 9], index=symbols.index)
    unique, groups = make_unique_symbols(symbols, totals)
    # g3 and g4 tie on the largest total: the smaller id keeps the symbol
    assert unique.to_dict() == {"g1": "A_g1", "g2": "B", "g3": "A", "g4": "A_g4"}
    assert groups == {"A": ["g3", "g4", "g1"]}
    again, _ = make_unique_symbols(symbols.iloc[::-1], totals.iloc[::-1])
    assert again.sort_index().equals(unique.sort_index())  # order of input does not matter


def test_annotation_strips_versions_and_keeps_unmapped(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("gene_id\tsymbol\nENSMUSG00000000001\tGnai3\nENSMUSG00000000028\tCdc45\n")
    ids = ["ENSMUSG00000000001.5", "ENSMUSG00000000028.16", "ENSMUSG00000099999.1"]
    var, report = annotate_genes(ids, "ensembl_version", table, [10, 5, 1])
    assert var["symbol"].tolist() == ["Gnai3", "Cdc45", "ENSMUSG00000099999"]
    assert report["n_unmapped"] == 1
    assert list(strip_version(["ENSG00000182378.14_PAR_Y"])) == ["ENSG00000182378_PAR_Y"]


def test_cell_types_called_from_markers():
    """No cell-type column used: each cell gets its highest marker signature.
    On the real TMS sample the calls recover the annotated LSECs."""
    spec = tms_dataset()
    spec["single_cell"].update(cell_types_from="markers", cell_type_key="marker_call")
    ds = load({"tms": spec}).datasets["tms"]
    assert list(ds.cell_types)[0] == "LSEC" and ds.spec["single_cell"]["lsec_label"] == "LSEC"
    assert set(ds.cell_types.values()) == set(pd.read_csv(REPO / "resources/markers/mouse.tsv", sep="\t")["cell_type"])
    adata, report = build_counts(ds.params())
    calls = adata.obs["marker_call"].astype(str)
    annotated = adata.obs["cell_type"].astype(str) == "endothelial cell of hepatic sinusoid"
    assert (calls[annotated] == "LSEC").mean() >= 0.9
    assert (annotated[calls == "LSEC"]).mean() >= 0.9
    assert sum(report["cell_types_from_markers"].values()) == adata.n_obs


def test_markers_mode_refuses_an_existing_column():
    spec = tms_dataset()
    spec["single_cell"]["cell_types_from"] = "markers"  # cell_type_key defaults to the existing 'cell_type'
    with pytest.raises(ConfigError, match="cell_types_from.*already exists"):
        load({"tms": spec})


def test_a_labs_sheet_as_it_comes(tmp_path):
    """The shipped DLPC sheet as a lab sends it: CSV, UTF-8 byte-order mark, CRLF line ends, ids in a column
    named sample_id (samples.id_column), rows shuffled. Parse-time checks and ingest read it exactly as the
    TSV: the same sheet, the same counts.h5ad obs and matrix (so the same DE)."""
    tsv = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t", dtype=str)
    lab = tsv.rename(columns={"sample": "sample_id"}).sample(frac=1, random_state=3)
    csv = tmp_path / "sheet.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + lab.to_csv(index=False, lineterminator="\r\n").encode())
    spec = dlpc_dataset(DLPC_COUNTS, csv)
    spec["samples"]["id_column"] = "sample_id"
    ours, ref = load({"d": spec}).datasets["d"], load({"d": dlpc_dataset(DLPC_COUNTS)}).datasets["d"]
    assert ours.sheet.sort_index().equals(ref.sheet.sort_index())
    a, _ = build_counts(ours.params(rule="ingest"))
    b, _ = build_counts(ref.params(rule="ingest"))
    a, b = a[sorted(a.obs_names)], b[sorted(b.obs_names)]  # rows follow the sheet; DE sorts samples itself
    assert a.obs.equals(b.obs) and (a.X == b.X).all() and a.var.equals(b.var)


@pytest.mark.parametrize("name, content, error", [
    ("sheet.xlsx", "sample\tGroup\n", "unknown file type '.xlsx'; name it .tsv"),
    ("sheet.csv", "id,Group\nSample720,Chow\n", "the sample id column 'sample' is missing .* samples.id_column"),
])
def test_sheet_type_and_id_column_errors(tmp_path, name, content, error):
    (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError, match=error):
        load({"d": dlpc_dataset(DLPC_COUNTS, tmp_path / name)})
