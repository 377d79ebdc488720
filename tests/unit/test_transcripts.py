"""lsecflow.transcripts: per-sample salmon and kallisto transcript estimates summarised to genes, checked against
R tximport 1.26.1 on real files, and the parse-time checks that name the key or file at fault.

Data (tests/data/tximport, README there): the tximportData package's salmon 0.6.0 and kallisto quantifications of
six GEUVADIS samples (real; every 8th gene's transcripts, lines unchanged), its tx2gene, and tximport's own
output on them for each countsFromAbundance (made by make_reference.R). The sample sheet's ``group`` column
is SYNTHETIC (three and three: the design needs two levels; nothing here tests DE).
"""
from __future__ import annotations

import gzip

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import REPO, dlpc_dataset, load_one
from lsecflow import de, transcripts
from lsecflow.de_edger import contrast_tables, edger_tables, run_de_edger
from lsecflow.de_files import OUTPUT_KINDS
from lsecflow.de_inputs import count_unit
from lsecflow.errors import LsecflowError
from lsecflow.ingest import build_counts, run_ingest
from lsecflow.methods import methods_text
from lsecflow.provenance import dataset_inputs
from lsecflow.qc import vst_blind
from lsecflow.trust import leave_one_out

DATA = REPO / "tests/data/tximport"
RUNS = ["ERR188021", "ERR188088", "ERR188288", "ERR188297", "ERR188329", "ERR188356"]
FILES = {"salmon": "quant.sf", "kallisto": "abundance.tsv"}
TX2GENE = DATA / "tx2gene.csv.gz"


def quant_paths(fmt: str) -> dict[str, str]:
    return {run: str(DATA / fmt / f"{run}.{FILES[fmt]}.gz") for run in RUNS}


def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.tsv.gz", sep="\t", index_col=0)


@pytest.mark.parametrize("fmt", list(FILES))
@pytest.mark.parametrize("from_abundance", transcripts.FROM_ABUNDANCE)
def test_gene_counts_equal_tximports(fmt, from_abundance):
    counts, names, extra = transcripts.summarise(quant_paths(fmt), fmt, TX2GENE, from_abundance)
    ref = reference(f"{fmt}.{from_abundance}.counts")
    assert sorted(counts.index) == sorted(ref.index) and len(counts) == 3168  # 3 unmapped transcripts left out
    assert list(counts.columns) == RUNS and names is None  # a two-column tx2gene names no genes
    np.testing.assert_allclose(counts.to_numpy(), ref.loc[counts.index].to_numpy(), rtol=1e-12, atol=0)
    if from_abundance == "no":
        for kind in ("abundance", "length"):  # the length's two fallbacks (TPM 0 in some / all samples) included
            np.testing.assert_allclose(extra[kind].to_numpy(), reference(f"{fmt}.{kind}").loc[counts.index],
                                       rtol=1e-12, atol=0)
        assert ((extra["abundance"] == 0).all(axis=1)).sum() > 100  # the fallbacks are exercised
        assert ((extra["abundance"] == 0).any(axis=1) & (extra["abundance"] > 0).any(axis=1)).sum() > 100


def test_an_nfcore_tx2gene_without_header_and_with_names_gives_the_same_counts(tmp_path):
    """nf-core/rnaseq's tx2gene.tsv: tab-separated, no header, a third column of gene names (here SYNTHETIC:
    the symbol with a suffix); versioned ids are matched without their versions, and GENCODE-style headers up to
    their first bar, when asked -- and the start-up message says which setting would match them."""
    table = pd.read_csv(TX2GENE)
    nfcore = tmp_path / "tx2gene.tsv"
    table.assign(name=table["GENEID"] + "-n").to_csv(nfcore, sep="\t", header=False, index=False)
    counts, names, _ = transcripts.summarise(quant_paths("salmon"), "salmon", nfcore)
    ref, _, _ = transcripts.summarise(quant_paths("salmon"), "salmon", TX2GENE)
    pd.testing.assert_frame_equal(counts, ref)
    assert (names == names.index + "-n").all() and names.index.equals(counts.index)
    versioned = tmp_path / "versioned.csv"
    table.assign(TXNAME=table["TXNAME"] + ".3").to_csv(versioned, index=False)
    with pytest.raises(LsecflowError, match="compared as counts.tx_id_match: ignore_version says they match"):
        transcripts.check_tx2gene(quant_paths("salmon")["ERR188021"], "salmon", versioned)
    transcripts.check_tx2gene(quant_paths("salmon")["ERR188021"], "salmon", versioned, "ignore_version")
    stripped, _, _ = transcripts.summarise(quant_paths("salmon"), "salmon", versioned, match="ignore_version")
    pd.testing.assert_frame_equal(stripped, ref)
    barred = {}  # GENCODE-style FASTA headers as transcript names (SYNTHETIC suffix on the real files' lines)
    for run, path in quant_paths("salmon").items():
        lines = gzip.open(path, "rt").read().splitlines()
        barred[run] = tmp_path / f"{run}.quant.sf"
        barred[run].write_text("\n".join([lines[0]] + [line.replace("\t", "|GENE|OTHER|\t", 1) for line in lines[1:]])
                               + "\n")
    with pytest.raises(LsecflowError, match="counts.tx_id_match: ignore_after_bar says they match"):
        transcripts.check_tx2gene(barred["ERR188021"], "salmon", TX2GENE)
    cut, _, _ = transcripts.summarise({r: str(p) for r, p in barred.items()}, "salmon", TX2GENE,
                                      match="ignore_after_bar")
    pd.testing.assert_frame_equal(cut, ref)
    assert list(transcripts.trim_ids(["ENST00000381192.10_PAR_Y", "ENST00000381192.10", "NM_1|x.2"],
                                     "ignore_version")) == ["ENST00000381192_PAR_Y", "ENST00000381192", "NM_1|x"]


def salmon_spec(tmp_path, paths=None, **counts_keys) -> dict:
    """A human bulk dataset of the six GEUVADIS samples (their salmon files), ``group`` SYNTHETIC."""
    sheet = pd.read_csv(DATA / "samples.txt", sep=" ")[["run", "sample", "pop"]].rename(columns={"sample": "individual"})
    sheet["group"] = ["a", "a", "a", "b", "b", "b"]
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    spec = dlpc_dataset(DATA, sheet=tmp_path / "samples.tsv", species="human", gene_ids="symbol",
                        design="~ group", contrasts={"b_vs_a": {"variable": "group", "target": "b", "reference": "a"}},
                        figures={"genes_of_interest": ["MMP9", "TNF"]})
    spec["samples"] = {"sheet": str(tmp_path / "samples.tsv"), "id_column": "run"}
    spec["counts"] = {"path": paths or quant_paths("salmon"), "tx2gene": str(TX2GENE), **counts_keys}
    return spec


def test_salmon_files_through_the_config_give_tximports_counts_rounded(tmp_path):
    ds = load_one(tmp_path, salmon_spec(tmp_path, round=True)).datasets["p"]
    assert ds.format == "salmon"  # detected from the first file's header
    adata, _ = build_counts(ds.params())
    ref = reference("salmon.lengthScaledTPM.counts")  # the default, tximport's advice without length offsets
    assert sorted(adata.obs_names) == RUNS and adata.n_vars == len(ref)  # in the sheet's order
    np.testing.assert_array_equal(adata.X, np.round(ref.loc[adata.var_names, adata.obs_names].to_numpy().T))
    assert ('Transcript estimates (salmon or kallisto, one file per sample) were summarised to genes as tximport '
            'does (countsFromAbundance = "lengthScaledTPM"; transcripts mapped to genes by tx2gene.csv.gz) and '
            'rounded to integers.') in methods_text(ds.spec, {})[0]
    roles = {role: path for _, role, path in dataset_inputs("p", ds.spec)}
    assert roles["tx2gene"] == str(TX2GENE) and roles["counts:ERR188021"].endswith("ERR188021.quant.sf.gz")
    no = load_one(tmp_path, salmon_spec(tmp_path, round=True, from_abundance=False)).datasets["p"]
    assert no.spec["counts"]["from_abundance"] == "no"  # an unquoted `no` in YAML, read as false
    adata, _ = build_counts(no.params())
    np.testing.assert_array_equal(adata.X, np.round(reference("salmon.no.counts").loc[adata.var_names, adata.obs_names].T))


def test_bad_transcript_inputs_are_refused_by_name(tmp_path):
    spec = salmon_spec(tmp_path)
    with pytest.raises(LsecflowError, match=r"salmon files estimate counts \(fractional, .*ERR188021.quant.sf.gz\).*"
                                            "set counts.round: true"):
        load_one(tmp_path, spec)  # at start-up, not in the ingest job
    spec["counts"].pop("tx2gene")
    with pytest.raises(LsecflowError, match="salmon files estimate transcripts: counts.tx2gene must map them"):
        load_one(tmp_path, spec)
    other = tmp_path / "other.csv"
    other.write_text("TXNAME,GENEID\nENST00000456328,DDX11L1\nENST00000450305,DDX11L1\n")
    with pytest.raises(LsecflowError, match=r"none of its 6,049 transcripts is in .*other.csv \(file: NR_001526, "
                                            r".*tx2gene: ENST00000456328.*same annotation"):
        load_one(tmp_path, salmon_spec(tmp_path, tx2gene=str(other)))
    with pytest.raises(LsecflowError, match="a salmon file of one sample's transcripts: give counts.path as a mapping"):
        load_one(tmp_path, salmon_spec(tmp_path, paths=quant_paths("salmon")["ERR188021"]))
    matrix = dlpc_dataset(REPO / "resources/data/dlpc_liver/counts.tsv.gz")
    matrix["counts"]["tx2gene"] = str(TX2GENE)
    with pytest.raises(LsecflowError, match="counts.tx2gene is read only for transcript estimates .* these counts are "
                                            "tsv"):
        load_one(tmp_path, matrix)
    voom = salmon_spec(tmp_path, round=True, from_abundance="no")
    voom["de"] = {"engine": "voom"}
    with pytest.raises(LsecflowError, match='from_abundance: "no" leaves the transcript-length .* de.engine voom '
                                            "here takes no such offset: use lengthScaledTPM .* or de.engine: "
                                            "deseq2 or edger"):
        load_one(tmp_path, voom)
    mixed = {**quant_paths("salmon"), "ERR188356": str(DATA / "kallisto" / "ERR188356.abundance.tsv.gz")}
    with pytest.raises(LsecflowError, match=r"ERR188356.*a kallisto file, but the counts are read as salmon"):
        load_one(tmp_path, salmon_spec(tmp_path, paths=mixed))
    lines = gzip.open(quant_paths("salmon")["ERR188088"], "rt").read().splitlines()
    short = tmp_path / "ERR188088.quant.sf"
    short.write_text("\n".join(lines[:-5]) + "\n")
    fewer = load_one(tmp_path, salmon_spec(tmp_path, paths={**quant_paths("salmon"), "ERR188088": str(short)},
                                           round=True)).datasets["p"]
    with pytest.raises(LsecflowError, match=r"ERR188088.quant.sf \(sample 'ERR188088'\): not the transcripts of "
                                            r".*ERR188021.quant.sf.gz, in its order \(6,044 vs 6,049\)"):
        build_counts(fewer.params())
    tx = lines[7].split("\t")[0]
    lines[7] = "\t".join([tx, "1000", "900", "-1", "5"])
    bad = tmp_path / "bad.quant.sf"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(LsecflowError, match=f"transcript '{tx}', column TPM: .*not a non-negative number"):
        transcripts.read_quant(bad, "salmon")


def test_deseq2_on_the_no_counts_takes_the_transcript_lengths_as_r_does(tmp_path):
    """counts.from_abundance: "no" -> DESeq2 with tximport's average transcript lengths as normalisation factors,
    as DESeqDataSetFromTximport + DESeq() + results() in R 1.38.3 (make_deseq2_reference.R; group SYNTHETIC)."""
    ds = load_one(tmp_path, salmon_spec(tmp_path, round=True, from_abundance="no")).datasets["p"]
    adata, _ = build_counts(ds.params())
    assert adata.layers[transcripts.TX_LENGTH_LAYER].shape == adata.shape
    assert ("median-of-ratios size factors combined with tximport's average transcript lengths into normalisation "
            "factors (as DESeqDataSetFromTximport)") in methods_text(ds.spec, {})[1]
    dds = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    nf = reference("deseq2_tx_lengths.norm_factors")
    assert dds.n_vars == len(nf) == 1897  # the same gene filter
    np.testing.assert_allclose(np.asarray(dds.normalizationFactors).T,
                               nf.loc[dds.var_names, list(dds.obs_names)].to_numpy(), rtol=1e-10)
    ours = de.contrast_results(dds, ds.contrasts["b_vs_a"], ds.spec["de"]).set_index("gene_id")
    ref = reference("deseq2_tx_lengths.b_vs_a").loc[ours.index]
    np.testing.assert_allclose(ours["baseMean"], ref["baseMean"], rtol=1e-10)
    np.testing.assert_allclose(ours["log2FoldChange"], ref["log2FoldChange"], atol=1e-6)
    np.testing.assert_allclose(ours["pvalue"], ref["pvalue"], rtol=1e-4, atol=1e-12)
    assert set(ours.index[ours["padj"] < 0.05]) == set(ref.index[ref["padj"] < 0.05])
    genes = adata[:, list(dds.var_names)]  # QC's blind VST (the PCA's input), as vst(dds, blind = TRUE) in R
    vst = vst_blind(pd.DataFrame(genes.X, index=genes.obs_names, columns=genes.var_names),
                    lengths=genes.layers[transcripts.TX_LENGTH_LAYER])
    ref_vst = reference("deseq2_tx_lengths.vst_blind")
    np.testing.assert_allclose(vst.loc[ref_vst.index, ref_vst.columns].to_numpy(), ref_vst.to_numpy(), rtol=0,
                               atol=1e-4)
    del adata.layers[transcripts.TX_LENGTH_LAYER]  # the same counts without the lengths: not R's answer
    plain = de.fit_model(adata, ds.spec["design"], ds.design_columns, ds.spec["de"], contrasts=ds.contrasts)
    moved = de.contrast_results(plain, ds.contrasts["b_vs_a"], ds.spec["de"]).set_index("gene_id").loc[ours.index]
    assert np.abs(moved["log2FoldChange"] - ref["log2FoldChange"]).max() > 0.1
    shrunk = de.contrast_results(dds, ds.contrasts["b_vs_a"], {**ds.spec["de"], "shrink": "apeglm"})
    assert shrunk["log2FoldChange_shrunk"].notna().sum() == ours["log2FoldChange"].notna().sum()
    genes = {"b_vs_a": list(ours.index[:5])}  # leave-one-out refits re-make the factors on the other samples
    loo = leave_one_out(dds, ds.spec["design"], ds.contrasts, genes)
    assert len(loo) == 5 * 6 and np.isfinite(loo["log2FoldChange"]).all()


def test_edger_on_the_no_counts_takes_the_transcript_lengths_as_offsets_as_r_does(tmp_path):
    """counts.from_abundance: "no" under de.engine: edger -> tximport's edgeR recipe (length offsets, TMM of the
    length-corrected counts, scaleOffset) and the QL pipeline, as R edgeR 3.40.2 (make_edger_reference.R; group
    SYNTHETIC): the rule's table, its log CPM and CPM files, glmTreat; leave-one-out refits re-make the offsets."""
    spec = salmon_spec(tmp_path, round=True, from_abundance="no")
    # alpha 0.99, a test setting: the SYNTHETIC groups call nothing at 0.05, and leave-one-out refits the calls
    spec["de"] = {"engine": "edger", "alpha": 0.99}
    ds = load_one(tmp_path, spec).datasets["p"]
    assert ("kept, offsets made from tximport's average transcript lengths and the TMM factors of the "
            "length-corrected counts (tximport's recipe for edgeR, scaleOffset), negative binomial"
            ) in methods_text(ds.spec, {})[1]
    h5ad = tmp_path / "counts.h5ad"
    run_ingest(ds.params(rule="ingest"), str(h5ad))
    outputs = {"b_vs_a": {k: str(tmp_path / f"b_vs_a.{k}.tsv") for k in OUTPUT_KINDS}}
    ours = run_de_edger(str(h5ad), ds.params(rule="de"), outputs)["b_vs_a"].set_index("gene_id")
    ref = reference("edger_tx_lengths.b_vs_a")
    assert sorted(ours.index) == sorted(ref.index) and len(ref) == 1897  # the same gene filter
    ours = ours.loc[ref.index]
    for col, r_col in (("log2FoldChange", "logFC"), ("logCPM", "logCPM"), ("pvalue", "PValue"), ("padj", "FDR")):
        np.testing.assert_allclose(ours[col], ref[r_col], rtol=1e-6, atol=1e-12, err_msg=col)
    offset = reference("edger_tx_lengths.offset")
    log_cpm = pd.read_csv(outputs["b_vs_a"]["vst"], sep="\t", index_col=0).loc[offset.index, offset.columns]
    np.testing.assert_allclose(log_cpm, reference("edger_tx_lengths.log_cpm").loc[offset.index, offset.columns],
                               rtol=1e-8)  # as the files are written (ten significant digits)
    cpm = pd.read_csv(outputs["b_vs_a"]["normalized"], sep="\t", index_col=0).loc[offset.index, offset.columns]
    counts = reference("salmon.no.counts").round().loc[offset.index, offset.columns]
    np.testing.assert_allclose(cpm, counts / np.exp(offset) * 1e6, rtol=1e-8)
    unit = count_unit(ad.read_h5ad(h5ad), ds.params(rule="de"), ["b_vs_a"])
    treat = edger_tables(unit.counts, unit.meta, "~ group", unit.contrasts, {"lfc_threshold": 1.0}, unit.symbols,
                         unit.lengths).tables["b_vs_a"].set_index("gene_id").loc[ref.index]
    np.testing.assert_allclose(treat["pvalue"], ref["treat_PValue"], rtol=1e-6)
    scaled = unit.lengths.mul(np.linspace(0.5, 3, len(unit.lengths)), axis=0)  # only between-sample ratios count
    again = edger_tables(unit.counts, unit.meta, "~ group", unit.contrasts, {}, unit.symbols, scaled).tables["b_vs_a"]
    np.testing.assert_allclose(again.set_index("gene_id").loc[ref.index, "pvalue"], ref["PValue"], rtol=1e-6)
    plain = edger_tables(unit.counts, unit.meta, "~ group", unit.contrasts, {}, unit.symbols).tables["b_vs_a"]
    moved = plain.set_index("gene_id").loc[ref.index, "log2FoldChange"] - ref["logFC"]
    assert np.abs(moved).max() > 0.1  # the same counts without the offsets: not R's answer
    loo = pd.read_csv(outputs["b_vs_a"]["loo"], sep="\t")
    assert len(loo) > 6 * 10 and set(loo["left_out"]) == set(RUNS)
    left = loo[loo["left_out"] == "ERR188021"].set_index("gene_id")
    keep = [s for s in unit.counts.columns if s != "ERR188021"]
    again, _ = contrast_tables(unit.counts[keep], unit.meta.loc[keep], "~ group", unit.contrasts, {},
                               lengths=unit.lengths[keep])
    np.testing.assert_allclose(left["log2FoldChange"], again["b_vs_a"].loc[left.index, "log2FoldChange"], rtol=1e-9)
    assert not np.allclose(left["log2FoldChange"], ours.loc[left.index, "log2FoldChange"])


def test_a_folder_of_sample_folders_is_read_as_salmon_writes_it(tmp_path):
    """counts.path a folder of one subfolder per sample (salmon's layout, nf-core/rnaseq's star_salmon/<sample>/):
    the subfolder names are the sample ids, other subfolders (logs, QC) are passed over, and the counts equal the
    mapping's; a tx2gene.tsv beside them is named when counts.tx2gene is missing; a folder without any is
    refused by name."""
    run = tmp_path / "star_salmon"
    for sample, path in quant_paths("salmon").items():
        (run / sample).mkdir(parents=True)
        (run / sample / "quant.sf.gz").write_bytes(open(path, "rb").read())
    (run / "log").mkdir()
    (run / "log" / "salmon.log").write_text("not a sample\n")
    pd.read_csv(TX2GENE).to_csv(run / "tx2gene.tsv", sep="\t", header=False, index=False)
    ds = load_one(tmp_path, salmon_spec(tmp_path, paths=str(run), round=True)).datasets["p"]
    assert ds.spec["counts"]["path"] == {s: str(run / s / "quant.sf.gz") for s in sorted(RUNS)}
    via_folder, _ = build_counts(ds.params())
    via_mapping, _ = build_counts(load_one(tmp_path, salmon_spec(tmp_path, round=True)).datasets["p"].params())
    np.testing.assert_array_equal(via_folder.X, via_mapping.X)
    missing = salmon_spec(tmp_path, paths=str(run), round=True)
    missing["counts"].pop("tx2gene")
    with pytest.raises(LsecflowError, match=f"there is one beside them: {run / 'tx2gene.tsv'}"):
        load_one(tmp_path, missing)
    with pytest.raises(LsecflowError, match="log is a folder, and none of its subfolders holds a quant.sf or "
                                            "abundance.tsv"):
        load_one(tmp_path, salmon_spec(tmp_path, paths=str(run / "log"), round=True))
