"""lsecflow.assay_keys: keys of another assay's engine or blocks refused at parse time, named; a key written
with its default let through. Through load_datasets on the real DLPC (bulk) and UPS1 (proteomics) datasets,
and directly."""
from __future__ import annotations

import re

import pytest
from helpers import DLPC_COUNTS, dlpc_dataset, load_datasets, load_one, tms_dataset, ups1_dataset
from lsecflow.assay_keys import ASSAY_KEYS, FORMAT_KEYS, check_keys_for_assay, keys_set
from lsecflow.errors import ConfigError
from lsecflow.schema import load_schema


def test_only_keys_off_their_default_count():
    assert keys_set({"de": {"test": "wald", "shrink": False, "min_count": 10}}, ["de.test", "de.shrink",
                                                                                   "de.min_count"]) == []
    assert keys_set({"de": {"test": "lrt", "reduced": "~ 1", "min_count": 5}},
                    ["de.test", "de.reduced", "de.min_count"]) == ["de.test", "de.reduced", "de.min_count"]
    check_keys_for_assay({"assay": "bulk", "de": {"shrink": "normal"}}, "x")
    check_keys_for_assay({"assay": "proteomics", "de": {"robust": True}}, "x")
    with pytest.raises(ConfigError, match=r"x: assay 'proteomics' does not read key\(s\) set here: de.fit_type is "
                                          r"DESeq2's, for count assays"):
        check_keys_for_assay({"assay": "proteomics", "de": {"fit_type": "mean"}}, "x")
    with pytest.raises(ConfigError, match=r"x: assay 'bulk' with de.engine 'deseq2' does not read key\(s\) set here: "
                                          r"de.robust is limma's eBayes\(robust\) or edgeR's glmQLFit\(robust\), for "
                                          r"assay proteomics or de.engine voom or edger; qc.n_hvg is single-cell QC's, "
                                          r"for assay single_cell only"):
        check_keys_for_assay({"assay": "bulk", "de": {"robust": True}, "qc": {"n_hvg": 500}}, "x")


@pytest.mark.parametrize("de, error", [
    ({"engine": "voom", "trend": True, "robust": True, "lfc_threshold": 0.5, "min_count": 5}, None),
    ({"engine": "voom", "shrink": "normal", "fit_type": "mean"},
     r"assay 'bulk' with de.engine 'voom' does not read key\(s\) set here: de.shrink, de.fit_type are DESeq2's, for "
     r"count assays with de.engine deseq2"),
    ({"engine": "voom", "test": "lrt", "reduced": "~ 1"}, None),  # limma's moderated F test of the design
    ({"engine": "voom", "lm_method": "robust"}, r"de.lm_method is limma's, for assay proteomics only"),
    ({"engine": "voom", "independent_filter": False}, r"de.independent_filter is DESeq2's"),
    ({"engine": "deseq2", "trend": True}, r"with de.engine 'deseq2' does not read key\(s\) set here: de.trend is "
                                          r"limma's eBayes options"),
    ({"engine": "voom", "sample_weights": True}, None),
    ({"engine": "edger", "robust": True, "test": "lrt", "reduced": "~ 1", "min_count": 5}, None),
    ({"engine": "edger", "trend": True}, r"with de.engine 'edger' does not read key\(s\) set here: de.trend is "
                                         r"limma's eBayes options"),
    ({"engine": "edger", "block": "Group"}, r"with de.engine 'edger' does not read key\(s\) set here: de.block"),
    ({"sample_weights": True}, r"de.sample_weights is limma's sample quality weights \(voomWithQualityWeights, "
                               r"arrayWeights\), for assay proteomics or de.engine voom"),
])
def test_voom_engine_reads_ebayes_keys_and_refuses_deseq2s(de, error):
    """de.engine: voom reads limma's eBayes keys, the pre-filter and de.test / de.reduced (a moderated F test);
    DESeq2's own keys are named, not ignored."""
    spec = dlpc_dataset(DLPC_COUNTS, de=de)
    if error is None:
        assert load_datasets({"d": spec}).datasets["d"].spec["de"]["engine"] == de["engine"]
    else:
        with pytest.raises(ConfigError, match=error):
            load_datasets({"d": spec})


def test_proteomics_refuses_an_engine(tmp_path):
    with pytest.raises(ConfigError, match=r"assay 'proteomics' does not read key\(s\) set here: de.engine is for "
                                          r"count assays only"):
        load_one(tmp_path, ups1_dataset(de={"engine": "voom"}))


@pytest.mark.parametrize("extra, error", [
    ({"proteomics": {"normalize": "quantile"}}, "proteomics.normalize is for assay proteomics only"),
    ({"pseudobulk": {"min_cells": 5}}, "pseudobulk.min_cells is for assay single_cell only"),
    ({"single_cell": {"cell_type_key": "x"}}, "single_cell.cell_type_key is for assay single_cell only"),
    ({"composition": {"transform": "asin"}}, "composition.transform is for assay single_cell only"),
    ({"composition": {"enabled": True}}, None),  # its default
    ({"qc": {"leiden_resolution": 2.0}}, "qc.leiden_resolution is single-cell QC's"),
    ({"paracrine": {"liana": False}}, "paracrine.liana is single-cell receivers'"),
    ({"de": {"trend": True}}, "de.trend is limma's"),
    ({"proteomics": {"normalize": "median"}, "qc": {"n_hvg": 2000}}, None),  # defaults: nothing to say
])
def test_bulk_dataset_refuses_what_it_would_not_read(extra, error):
    spec = dlpc_dataset(DLPC_COUNTS)
    spec.update(extra)
    if error is None:
        load_datasets({"d": spec})
    else:
        with pytest.raises(ConfigError, match=error):
            load_datasets({"d": spec})


def test_proteomics_dataset_refuses_single_cell_blocks(tmp_path):
    with pytest.raises(ConfigError, match="pseudobulk.min_cells is for assay single_cell only"):
        load_one(tmp_path, ups1_dataset(pseudobulk={"min_cells": 5}))


@pytest.mark.parametrize("opts, error", [
    ({"gene_column": "Gene names"}, "proteomics.gene_column is read for protein_table and peptide_table tables"),
    ({"organism": "Homo sapiens"}, "proteomics.organism is read for fragpipe tables"),
])
def test_a_maxquant_table_refuses_keys_of_other_formats(tmp_path, opts, error):
    """The real UPS1 MaxQuant table: a key only a generic table or FragPipe reads is named, not dropped (found by
    bench/fuzz_config.py); the keys MaxQuant reads pass."""
    spec = ups1_dataset()
    spec["proteomics"].update(opts)
    with pytest.raises(ConfigError, match=f"counts.format is 'maxquant', which does not read key.*{error}"):
        load_one(tmp_path, spec)
    spec = ups1_dataset()
    spec["proteomics"].update(intensity="intensity", remove_flagged=False)
    load_one(tmp_path, spec)


@pytest.mark.parametrize("make, counts, error", [
    (ups1_dataset, {"id_column": "Majority protein IDs"},
     "counts.id_column is bulk count tables', for assay bulk only (a protein table's columns: proteomics.id_column"),
    (ups1_dataset, {"layer": "counts"}, "counts.layer is an h5ad's, for assay single_cell only"),
    (tms_dataset, {"round": True, "name_column": "symbol"},
     "counts.name_column, counts.round are bulk count tables', for assay bulk only"),
    (lambda: dlpc_dataset(DLPC_COUNTS), {"layer": "raw"}, "counts.layer is an h5ad's, for assay single_cell only"),
])
def test_counts_keys_of_another_assay_are_refused(tmp_path, make, counts, error):
    """Found by bench/fuzz_config.py (seeds 2405, 2503, 2639): a bulk table's column keys or an h5ad's layer on a
    protein table were dropped without a word; on single-cell data the bulk keys too."""
    spec = make()
    spec["counts"].update(counts)
    with pytest.raises(ConfigError, match=re.escape(error)):
        load_one(tmp_path, spec)


def test_every_listed_key_is_in_the_schema():
    """Each key of the tables exists in the dataset schema (a renamed key would otherwise stop being checked)."""
    props = load_schema("dataset")["properties"]
    keys = [*ASSAY_KEYS, *FORMAT_KEYS]
    missing = [k for k in keys if k.split(".", 1)[1] not in props[k.split(".", 1)[0]]["properties"]]
    assert missing == [] and len(ASSAY_KEYS) > 30
