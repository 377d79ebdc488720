"""lsecflow.bulk_counts: every supported bulk count-matrix layout gives the same real counts.

The matrices are the shipped real DLPC counts re-written in each layout (TSV, CSV, nf-core/rnaseq salmon
and RSEM, featureCounts); for featureCounts the annotation columns (Chr, Start, ...) are placeholders, since
only the counts are read."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from lsecflow import bulk_counts, files
from lsecflow.errors import InputDataError


@pytest.fixture(scope="module")
def bulk(dlpc_counts) -> pd.DataFrame:
    return dlpc_counts.iloc[:400].copy()


def test_tsv_gz_roundtrip(tmp_path, bulk):
    path = tmp_path / "m.tsv.gz"
    with gzip.open(path, "wt") as fh:
        bulk.to_csv(fh, sep="\t")
    assert files.detect_format(path) == "tsv"
    got, _ = bulk_counts.read_bulk(path, "tsv")
    assert got.dtypes.unique().tolist() == [np.int64]
    pd.testing.assert_frame_equal(got, bulk.rename_axis("gene_id").astype(np.int64))


def test_csv(tmp_path, bulk):
    path = tmp_path / "m.csv"
    bulk.to_csv(path)
    assert files.detect_format(path) == "csv"
    assert bulk_counts.read_bulk(path, "csv")[0].equals(bulk.rename_axis("gene_id").astype(np.int64))


def test_nfcore_rsem_and_named_columns(tmp_path, bulk):
    """nf-core/rnaseq's RSEM merged matrix (gene_id, transcript_id(s), samples; SYNTHETIC transcript column on
    the real counts): recognised as such; another layout through counts.id_column / name_column / drop_columns."""
    rsem = bulk.rename_axis("gene_id").reset_index()
    rsem.insert(1, "transcript_id(s)", [f"T{i}.1,T{i}.2" for i in range(len(rsem))])
    path = tmp_path / "rsem.merged.gene_counts.tsv"
    rsem.to_csv(path, sep="\t", index=False)
    got, names = bulk_counts.read_bulk(path, "tsv")
    assert names is None
    pd.testing.assert_frame_equal(got, bulk.rename_axis("gene_id").astype(np.int64))
    other = rsem.rename(columns={"gene_id": "ensembl", "transcript_id(s)": "tx"})
    other.insert(0, "symbol", [f"G{i}" for i in range(len(other))])  # ids second, names first
    other.to_csv(path, sep="\t", index=False)
    counts = {"id_column": "ensembl", "name_column": "symbol", "drop_columns": ["tx"]}
    got, names = bulk_counts.read_bulk(path, "tsv", counts)
    pd.testing.assert_frame_equal(got, bulk.rename_axis("gene_id").astype(np.int64))
    assert names.iloc[3] == "G3" and names.index[3] == bulk.index[3]
    with pytest.raises(InputDataError, match="counts.drop_columns 'nope' is not a column"):
        bulk_counts.read_bulk(path, "tsv", dict(counts, drop_columns=["nope"]))


def test_featurecounts(tmp_path, bulk):
    path = tmp_path / "counts.txt"
    ann = pd.DataFrame({"Chr": "chr1", "Start": 1, "End": 100, "Strand": "+", "Length": 100}, index=bulk.index)
    table = pd.concat([ann, bulk.rename(columns=lambda s: f"/data/bam/{s}.bam")], axis=1).rename_axis("Geneid")
    with open(path, "w") as fh:
        fh.write('# Program:featureCounts v2.0.6; Command:"featureCounts" "-a" "genes.gtf"\n')
        table.to_csv(fh, sep="\t")
    assert files.detect_format(path) == "featurecounts"
    assert bulk_counts.bulk_header(path, "featurecounts") == list(bulk.columns)
    got, _ = bulk_counts.read_bulk(path, "featurecounts")
    assert got.equals(bulk.rename_axis("gene_id").astype(np.int64))


def test_header_only_matrix(tmp_path, bulk):
    path = tmp_path / "m.tsv"
    path.write_text("\t".join(["gene"] + list(bulk.columns)) + "\n")
    with pytest.raises(InputDataError, match="no gene rows"):
        bulk_counts.read_bulk(path, "tsv")


def test_featurecounts_header_checked(tmp_path, bulk):
    path = tmp_path / "m.txt"
    bulk.to_csv(path, sep="\t")
    with pytest.raises(InputDataError, match="not featureCounts output"):
        bulk_counts.bulk_header(path, "featurecounts")
