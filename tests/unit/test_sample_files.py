"""lsecflow.sample_files: bulk counts given as one file per sample (HTSeq-count, STAR ReadsPerGene, one-sample
featureCounts) read into the same matrix as the merged file, with the parse-time checks that name the file,
sample or key at fault.

The per-sample files are the real DLPC counts (STAR gene counts, 20 samples) written out in each tool's layout:
the counts column is real. In the STAR files only the chosen column (reverse) holds the real counts; the other
two columns are SYNTHETIC (a tenth of them, and the sum), since the merged matrix keeps one column only.
"""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from helpers import DLPC_COUNTS, DLPC_SHEET, dlpc_dataset, load_one
from lsecflow import sample_files
from lsecflow.errors import LsecflowError
from lsecflow.ingest import build_counts

N_GENES = 4000  # the first genes of the real matrix: enough for every check, quick to write 20 times


@pytest.fixture(scope="module")
def dlpc():
    counts = pd.read_csv(DLPC_COUNTS, sep="\t", index_col=0).iloc[:N_GENES]
    return counts.rename(columns={"Sample724": "Sample725"})


def write_files(folder, counts: pd.DataFrame, fmt: str) -> dict[str, str]:
    """One file per sample in ``fmt`` layout; returns sample -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for sample in counts.columns:
        x = counts[sample]
        if fmt == "htseq":
            path = folder / f"{sample}.htseq.txt"
            lines = [f"{g}\t{v}" for g, v in x.items()]
            lines += ["__no_feature\t1234", "__ambiguous\t56", "__too_low_aQual\t0", "__not_aligned\t7",
                      "__alignment_not_unique\t89"]
            path.write_text("\n".join(lines) + "\n")
        elif fmt == "star":
            path = folder / f"{sample}.ReadsPerGene.out.tab.gz"
            head = ["N_unmapped\t100\t100\t100", "N_multimapping\t20\t20\t20", "N_noFeature\t5\t900\t7",
                    "N_ambiguous\t3\t1\t2"]
            forward = x // 10
            lines = head + [f"{g}\t{v + f}\t{f}\t{v}" for (g, v), f in zip(x.items(), forward)]
            with gzip.open(path, "wt") as fh:
                fh.write("\n".join(lines) + "\n")
        else:  # featureCounts, one sample
            path = folder / f"{sample}.featureCounts.txt"
            lines = ['# Program:featureCounts v2.0.6; Command:"featureCounts" "-a" "genes.gtf"',
                     f"Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/{sample}.bam"]
            lines += [f"{g}\tchr1\t1\t100\t+\t100\t{v}" for g, v in x.items()]
            path.write_text("\n".join(lines) + "\n")
        paths[sample] = str(path)
    return paths


def merged_matrix(tmp_path, counts: pd.DataFrame) -> str:
    path = tmp_path / "merged.tsv"
    counts.rename_axis("gene_id").to_csv(path, sep="\t")
    return str(path)


def per_sample_spec(paths: dict, **counts_keys) -> dict:
    spec = dlpc_dataset(DLPC_COUNTS)
    spec["counts"] = {"path": paths, **counts_keys}
    spec["samples"].pop("rename")  # the files are named by the sheet's ids already
    return spec


@pytest.mark.parametrize("fmt,keys", [("htseq", {}), ("star", {"strand": "reverse"}), ("featurecounts", {})])
def test_per_sample_files_give_the_merged_matrix(tmp_path, dlpc, fmt, keys):
    paths = write_files(tmp_path / fmt, dlpc, fmt)
    ds = load_one(tmp_path, per_sample_spec(paths, **keys)).datasets["p"]
    assert ds.format == fmt  # detected from the first file
    adata, _ = build_counts(ds.params())
    ref_spec = dlpc_dataset(merged_matrix(tmp_path, dlpc))
    ref_spec["samples"].pop("rename")
    (tmp_path / "ref").mkdir()
    ref, _ = build_counts(load_one(tmp_path / "ref", ref_spec).datasets["p"].params())
    assert adata.shape == ref.shape == (20, N_GENES)
    assert list(adata.obs_names) == list(ref.obs_names) and list(adata.var_names) == list(ref.var_names)
    np.testing.assert_array_equal(adata.X, ref.X)  # summary rows (__*, N_*) dropped, the reverse column read
    assert (adata.var["symbol"] == ref.var["symbol"]).all()


def test_star_files_need_the_strand_and_the_message_says_which(tmp_path, dlpc):
    paths = write_files(tmp_path / "star", dlpc, "star")
    with pytest.raises(LsecflowError, match=r"need counts.strand .*likely reverse \(column 4 holds most reads"):
        load_one(tmp_path, per_sample_spec(paths))
    ds = load_one(tmp_path, per_sample_spec(paths, strand="unstranded")).datasets["p"]
    adata, _ = build_counts(ds.params())
    assert adata.X.sum() == pytest.approx(dlpc.sum().sum() + (dlpc // 10).sum().sum())  # column 2: both strands


def test_bad_per_sample_inputs_are_refused_by_name(tmp_path, dlpc):
    paths = write_files(tmp_path / "h", dlpc, "htseq")
    with pytest.raises(LsecflowError, match="counts.strand is read only for STAR"):
        load_one(tmp_path, per_sample_spec(paths, strand="reverse"))
    matrix_spec = dlpc_dataset(DLPC_COUNTS)
    matrix_spec["counts"]["strand"] = "reverse"  # a merged matrix: its strand was chosen when it was counted
    with pytest.raises(LsecflowError, match="counts.strand is read only for STAR .* these counts are tsv"):
        load_one(tmp_path, matrix_spec)
    with pytest.raises(LsecflowError, match="counts.layer is read only for h5ad files .* these counts are 10x_mtx"):
        sample_files.check_format_keys("10x_mtx", {"layer": "counts"})  # a 10x folder has one matrix
    with pytest.raises(LsecflowError, match="htseq files hold one sample each"):
        load_one(tmp_path, per_sample_spec(paths["Sample720"], format="htseq"))
    missing = dict(paths)
    del missing["Sample741"]
    with pytest.raises(LsecflowError, match="Sample741"):  # the sheet's sample without a file
        load_one(tmp_path, per_sample_spec(missing))
    star = write_files(tmp_path / "s", dlpc[["Sample745"]], "star")
    mixed = {**paths, "Sample745": star["Sample745"]}
    with pytest.raises(LsecflowError, match=r"Sample745.*a star file, but the counts are read as htseq"):
        load_one(tmp_path, per_sample_spec(mixed))
    fewer = write_files(tmp_path / "short", dlpc.iloc[:-3][["Sample753"]], "htseq")
    ds = load_one(tmp_path, per_sample_spec({**paths, "Sample753": fewer["Sample753"]})).datasets["p"]
    with pytest.raises(LsecflowError, match=r"Sample753.htseq.txt \(sample 'Sample753'\): not the genes of .*3 of its "
                                            r"genes missing"):
        build_counts(ds.params())
    bad = tmp_path / "bad" / "Sample770.htseq.txt"
    bad.parent.mkdir()
    text = open(paths["Sample770"]).read().splitlines()
    gene = text[10].split("\t")[0]
    text[10] = f"{gene}\t12.5"
    bad.write_text("\n".join(text) + "\n")
    ds = load_one(tmp_path, per_sample_spec({**paths, "Sample770": str(bad)})).datasets["p"]
    with pytest.raises(LsecflowError, match=f"sample 'Sample770', gene '{gene}': value 12.5 is not an integer"):
        build_counts(ds.params())
    headed = tmp_path / "headed" / "Sample720.htseq.txt"  # a lab's own two-column file with a header
    headed.parent.mkdir()
    headed.write_text("gene_id\tcount\n" + open(paths["Sample720"]).read())
    ds = load_one(tmp_path, per_sample_spec({**paths, "Sample720": str(headed)})).datasets["p"]
    with pytest.raises(LsecflowError, match=r"Sample720.htseq.txt: the first line \('gene_id\\tcount'\) holds no "
                                            "counts: a header"):
        build_counts(ds.params())
    matrix = merged_matrix(tmp_path, dlpc)
    with pytest.raises(LsecflowError, match="not a one-sample count file: .*21"):
        load_one(tmp_path, per_sample_spec({**paths, "Sample720": matrix}))


def test_a_sheet_column_names_each_samples_file(tmp_path, dlpc):
    """counts.files_column: the sheet names each sample's file (relative to the sheet's folder), as nf-core
    sample sheets do; the same matrix as the mapping, and a column or cell that names nothing is refused."""
    paths = write_files(tmp_path / "data" / "htseq", dlpc, "htseq")
    sheet = pd.read_csv(DLPC_SHEET, sep="\t").set_index("sample")
    sheet["counts_file"] = [f"htseq/{s}.htseq.txt" for s in sheet.index]
    sheet.to_csv(tmp_path / "data" / "samples.tsv", sep="\t")
    spec = per_sample_spec(paths)
    spec["counts"] = {"files_column": "counts_file"}
    spec["samples"]["sheet"] = str(tmp_path / "data" / "samples.tsv")
    ds = load_one(tmp_path, spec).datasets["p"]
    assert ds.spec["counts"]["path"] == {s: str(tmp_path / "data" / "htseq" / f"{s}.htseq.txt") for s in sheet.index}
    adata, _ = build_counts(ds.params())
    np.testing.assert_array_equal(adata.X, dlpc[list(sheet.index)].T.to_numpy())
    for counts, error in (({"files_column": "file"}, "'file' is not a column of"),
                          ({"files_column": "counts_file", "path": paths}, "one of the two"),
                          ({}, "give counts.path .* or counts.files_column")):
        spec["counts"] = counts
        with pytest.raises(LsecflowError, match=error):
            load_one(tmp_path, spec)
    sheet.loc["Sample746", "counts_file"] = ""
    sheet.to_csv(tmp_path / "data" / "samples.tsv", sep="\t")
    spec["counts"] = {"files_column": "counts_file"}
    with pytest.raises(LsecflowError, match="column 'counts_file' names no file for sample.s. Sample746"):
        load_one(tmp_path, spec)
