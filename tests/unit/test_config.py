"""lsecflow.config: loading and validating the config and dataset files before any job (no Snakemake):
schema defaults, design and contrast checks, the figures: section merged per dataset, proteomics keys."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml
from helpers import (
    DLPC_COUNTS,
    REPO,
    TMS_H5AD,
    UPS1_TABLE,
    dlpc_dataset,
    load_datasets,
    load_one,
    tms_dataset,
    ups1_dataset,
)
from lsecflow.config import load_config, merge_figures, slugify
from lsecflow.errors import ConfigError, LsecflowError


def shipped_config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())




def test_yaml_exponent_without_point_is_named_with_its_fix():
    """PyYAML reads `eps: 1e-50` as the text '1e-50'; the error says so and how to write it."""
    spec = dlpc_dataset(DLPC_COUNTS)
    spec["enrichment"] = yaml.safe_load("eps: 1e-50\npermutations: 2e3\n")
    assert spec["enrichment"]["eps"] == "1e-50"  # the YAML pitfall itself
    with pytest.raises(ConfigError) as err:
        load_datasets({"dlpc_liver": spec})
    msg = str(err.value)
    assert "key 'enrichment.eps': '1e-50' is not of type 'number' (YAML reads a number with an exponent but no " \
           "decimal point as text: write 1.0e-50)" in msg
    # an integer key gets no such hint: 2.0e3 would still not be an integer
    assert "key 'enrichment.permutations': '2e3' is not of type 'integer'" in msg and "write 2.0e3" not in msg
    spec["enrichment"] = yaml.safe_load("eps: 1.0e-50\n")
    assert load_datasets({"dlpc_liver": spec}).datasets["dlpc_liver"].spec["enrichment"]["eps"] == 1e-50


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
    assert cfg.config["compute"] == {"threads": 2, "seed": 0, "gpu": "auto", "cell_chunk": 20000}  # defaults


def test_contrast_variable_must_be_in_design(tmp_path):
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv")
    spec["contrasts"]["by_batch"] = {"variable": "batch", "target": "a", "reference": "b"}
    with pytest.raises(ConfigError, match="column 'batch' is not in the design"):
        load_datasets({"d": spec})


def test_shrinkage_refused_for_interaction_designs(tmp_path):
    sheet = pd.read_csv(REPO / "config/samples/dlpc_liver.tsv", sep="\t")
    sheet["batch"] = ["a", "b"] * 10
    sheet.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DLPC_COUNTS, tmp_path / "s.tsv", design="~ batch + Group + batch:Group")
    spec["contrasts"] = {name: {**c, "within": {"batch": "a"}} for name, c in spec["contrasts"].items()}
    spec["de"] = {**spec.get("de", {}), "shrink": "normal"}
    with pytest.raises(ConfigError, match="key 'de.shrink': LFC shrinkage is not available for a design with "
                                          "interaction terms \\(batch:Group"):
        load_datasets({"d": spec})


def test_dataset_file_missing():
    with pytest.raises(ConfigError, match="does not exist"):
        load_datasets({"d": "config/datasets/nope.yaml"})


def test_single_cell_needs_a_sample_source():
    spec = tms_dataset()
    spec["single_cell"].pop("sample_from_cell_name")
    with pytest.raises(ConfigError, match="sample_key"):
        load_datasets({"tms": spec})


def test_single_cell_lsec_label_must_exist():
    spec = tms_dataset()
    spec["single_cell"]["lsec_label"] = "LSEC"
    with pytest.raises(ConfigError, match="lsec_label.*'LSEC' is not a value"):
        load_datasets({"tms": spec})


def test_slugify():
    assert slugify("endothelial cell of hepatic sinusoid") == "endothelial_cell_of_hepatic_sinusoid"
    assert slugify("CD4+ T cell") == "CD4_T_cell"


def test_markers_mode_refuses_an_existing_column():
    spec = tms_dataset()
    spec["single_cell"]["cell_types_from"] = "markers"  # cell_type_key defaults to the existing 'cell_type'
    with pytest.raises(ConfigError, match="cell_types_from.*already exists"):
        load_datasets({"tms": spec})


def test_dataset_figures_merge_over_the_main_section():
    merged = merge_figures({"font_size": 9, "volcano": {"width": 7, "label_top": 5}},
                           {"volcano": {"label_top": 0}, "genes_of_interest": ["Mmp9"]}, "ds.yaml")
    assert merged["font_size"] == 9 and merged["genes_of_interest"] == ["Mmp9"]
    assert merged["volcano"]["width"] == 7 and merged["volcano"]["label_top"] == 0  # merged key by key
    assert merged["volcano"]["height"] == 5 and merged["formats"] == ["png", "svg", "pdf"]  # defaults filled


@pytest.mark.parametrize("override, message", [
    ({"formats": ["png"]}, "key 'figures.formats' can only be set in the main config"),
    ({"volcano": {"lable_top": 3}}, "key 'figures.volcano': Additional properties are not allowed ('lable_top'"),
    ({"volcano": {"y": "qvalue"}}, "key 'figures.volcano.y': 'qvalue' is not one of ['pvalue', 'padj']"),
    ({"heatmap": {"genes": "Mmp9"}}, "key 'figures.heatmap.genes': 'Mmp9' is not of type 'array'"),
    # a colour matplotlib cannot draw would stop a figure job after DE (found by bench/fuzz_config.py)
    ({"colors": {"focus": "Chow"}}, "key 'figures.colors.focus': 'Chow' is not a colour"),
    ({"colors": {"up": "#b2182"}}, "key 'figures.colors.up': '#b2182' is not a colour"),
    # sizes a figure job cannot draw (1e-12 inches: "cannot write empty image") or should not (1e9 inches)
    ({"volcano": {"width": 1e-12}}, "key 'figures.volcano.width': 1e-12 is less than the minimum of 1"),
    ({"heatmap": {"height": 1e9}}, "key 'figures.heatmap.height'"),
    ({"heatmap": {"n_top": 20000}}, "key 'figures.heatmap.n_top': 20000 is greater than the maximum of 500"),
])
def test_bad_dataset_figures_name_the_file_and_key(override, message):
    with pytest.raises(ConfigError) as err:
        merge_figures({}, override, "config/datasets/x.yaml")
    assert "config/datasets/x.yaml" in str(err.value) and message in str(err.value)


def test_colours_by_name_or_hex_are_taken():
    merged = merge_figures({}, {"colors": {"up": "firebrick", "down": "tab:blue", "ns": "#ccc", "focus": "0.3"}}, "x")
    assert merged["colors"]["up"] == "firebrick" and merged["colors"]["ns"] == "#ccc"


def test_formats_must_include_png(tmp_path):
    cfg = shipped_config()
    cfg["figures"]["formats"] = ["svg", "pdf"]
    with pytest.raises(ConfigError, match=r"config: key 'figures.formats': must include png "
                                          r"\(the HTML report embeds PNG files\); got svg, pdf"):
        load_config(cfg, roots=[REPO])


def test_shipped_config_resolves_figures_per_dataset():
    lsec = load_config(shipped_config(), roots=[REPO])
    figs = lsec.datasets["dlpc_liver"].spec["figures"]
    assert "Il23a" in figs["genes_of_interest"] and figs["formats"] == ["png", "svg", "pdf"]
    # analyses do not see the figures section, so editing it reruns figure jobs only
    for analysis in ("de", "enrichment"):
        assert "figures" not in lsec.datasets["dlpc_liver"].params(rule=analysis)["spec"]
    assert "figures" in lsec.datasets["dlpc_liver"].params(rule="figures")["spec"]


def test_proteomics_keys_are_checked(tmp_path):
    with pytest.raises(LsecflowError, match="gene_ids: protein"):
        load_one(tmp_path, ups1_dataset(gene_ids="symbol"))
    both = load_one(tmp_path, ups1_dataset(de={"trend": True, "robust": True, "lm_method": "robust"}))
    assert {k: both.datasets["p"].spec["de"][k] for k in ("trend", "robust", "lm_method")} == \
        {"trend": True, "robust": True, "lm_method": "robust"}
    with pytest.raises(ConfigError, match="key 'de.lm_method': 'huber' is not one of"):
        load_one(tmp_path, ups1_dataset(de={"lm_method": "huber"}))
    # de.test / de.reduced are read (limma's moderated F test); DESeq2's shrinkage is not
    with pytest.raises(ConfigError, match=r"assay 'proteomics' does not read key\(s\) set here: de.shrink is "
                                          r"DESeq2's, for count assays"):
        load_one(tmp_path, ups1_dataset(de={"test": "lrt", "reduced": "~ 1", "shrink": "normal", "min_count": 10}))
    counts = dlpc_dataset(DLPC_COUNTS)
    counts["de"] = {"lm_method": "robust"}
    with pytest.raises(ConfigError, match=r"de.lm_method is limma's, for assay proteomics only"):
        load_datasets({"dlpc_liver": counts})
    with pytest.raises(LsecflowError, match="counts.format' is 'tsv' but assay is 'proteomics'"):
        load_one(tmp_path, ups1_dataset(counts={"path": str(UPS1_TABLE), "format": "tsv"}))


def test_removing_doublets_needs_doublet_scores():
    spec = tms_dataset()
    spec["qc"] = {**spec.get("qc", {}), "remove_doublets": True, "doublets": "none"}
    with pytest.raises(ConfigError, match=r"qc.remove_doublets' is true but qc.doublets is none"):
        load_datasets({"tms": spec})


def test_a_renamed_key_says_its_new_name():
    with pytest.raises(ConfigError, match=r"'pseudobulk_chunk' is now 'cell_chunk'"):
        load_datasets({"tms": tms_dataset()}, compute={"pseudobulk_chunk": 50_000})


def test_drop_ids_must_be_a_regular_expression():
    spec = dlpc_dataset(DLPC_COUNTS)
    spec["counts"]["drop_ids"] = "^LRG_("
    with pytest.raises(ConfigError, match=r"key 'counts.drop_ids': '\^LRG_\(' is not a regular expression"):
        load_datasets({"dlpc_liver": spec})


@pytest.mark.parametrize("key, value, message", [
    ("paracrine", {"factors": "resources"}, "key 'paracrine.factors': 'resources' is the folder .*resources, not a file"),
    ("counts", {"path": "resources"}, "counts.path.: .*resources is a folder, and none of its subfolders holds a "
                                      "quant.sf or abundance.tsv .*a 10x mtx folder is single-cell data"),
])
def test_a_folder_where_a_file_belongs_is_named(key, value, message):
    """A path key given a folder (an empty value or ~ resolves to one): named, not an IsADirectoryError from
    pandas (found by bench/fuzz_config.py)."""
    spec = dlpc_dataset(DLPC_COUNTS)
    spec[key] = {**spec.get(key, {}), **value}
    with pytest.raises(ConfigError, match=message):
        load_datasets({"d": spec})


@pytest.mark.parametrize("n", [1, 3, 9])
def test_single_cell_data_of_a_handful_of_cells_is_refused_at_start_up(tmp_path, n):
    """The real TMS cells cut to ``n``: before, QC's embedding crashed (1 cell: scanpy's HVG IndexError; 3:
    UMAP's spectral start, k >= N) after ingest had run; now the config check names the file and the count."""
    import anndata as ad

    cells = ad.read_h5ad(TMS_H5AD)
    cells[:n].copy().write_h5ad(tmp_path / "few.h5ad")
    spec = tms_dataset(h5ad=tmp_path / "few.h5ad")
    with pytest.raises(ConfigError, match=rf"few.h5ad: {n} cells; single-cell QC needs at least 10 to embed and "
                                          "cluster them. Counts already pooled per sample are assay: bulk"):
        load_datasets({"tms": spec})
