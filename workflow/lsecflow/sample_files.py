"""Bulk counts as one file per sample, named in ``counts.path`` as a mapping sample -> file, merged into one
genes x samples matrix: HTSeq-count output (gene id, count; its ``__no_feature`` ... rows dropped), STAR's
``ReadsPerGene.out.tab`` (gene id and three counts; ``counts.strand`` picks one, its ``N_unmapped`` ... rows
dropped) or a one-sample featureCounts table. Every file must list the same genes in the same order, as files
made with one annotation do. Transcript estimates (salmon ``quant.sf``, kallisto ``abundance.tsv``) are
summarised to genes through ``counts.tx2gene`` as tximport does (:mod:`lsecflow.transcripts`).

STAR's columns, from its manual (``--quantMode GeneCounts``): column 2 counts for unstranded RNA-seq, column 3
for reads whose first read lies on the gene's strand (htseq-count ``-s yes``), column 4 for the reverse
(``-s reverse``; most dUTP / TruSeq Stranded libraries).
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import transcripts
from .annotation import SUMMARY_ROWS
from .assay_keys import keys_set
from .bulk_counts import checked_counts, read_bulk
from .errors import InputDataError
from .files import check_exists, compression, first_lines, is_featurecounts, reading

log = logging.getLogger(__name__)

#: formats of one-sample count files (``counts.format``, or detected from the first file)
TRANSCRIPT_FORMATS = tuple(transcripts.QUANT_COLUMNS)
PER_SAMPLE_FORMATS = ("htseq", "star", "featurecounts", *TRANSCRIPT_FORMATS)
#: those that never hold more than one sample (a featureCounts table may)
ONE_SAMPLE_FORMATS = ("htseq", "star", *TRANSCRIPT_FORMATS)
#: ``counts.strand`` -> STAR's count column (0-based, the gene id being column 0)
STAR_COLUMNS = {"unstranded": 1, "forward": 2, "reverse": 3}
FIELDS = {"htseq": 2, "star": 4}
#: ``counts`` keys read for some per-sample formats only -> those formats
FORMAT_KEYS = {"strand": ("star",), "layer": ("h5ad",),
               **{k: TRANSCRIPT_FORMATS for k in ("tx2gene", "from_abundance", "tx_id_match")}}


def detect(path) -> str:
    """The format of one sample's count file, from its first lines: featureCounts (its header), salmon or
    kallisto (their headers), STAR ReadsPerGene (4 tab-separated fields), HTSeq-count (2 fields)."""
    path = Path(path)
    check_exists(path)
    lines = first_lines(path, 8)
    if is_featurecounts(lines[0]):
        return "featurecounts"
    quantifier = transcripts.detect(lines[0])
    if quantifier:
        return quantifier
    widths = {len(line.split("\t")) for line in lines}
    for fmt, width in FIELDS.items():
        if widths == {width}:
            return fmt
    raise InputDataError(f"{path}: not a one-sample count file: its first lines have {sorted(widths)} tab-separated "
                         "fields; expected 2 (HTSeq-count: gene, count), 4 (STAR ReadsPerGene.out.tab: gene, "
                         "unstranded, forward, reverse), a featureCounts table, salmon's quant.sf or kallisto's "
                         "abundance.tsv. A genes x samples matrix goes in "
                         "counts.path as one file, not as a mapping sample -> file")


def _read_columns(path: Path, fmt: str) -> pd.DataFrame:
    """The file's rows (gene id index, count columns as text), summary rows (``__*``, ``N_*``) dropped."""
    with reading(path, fmt):
        df = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE,
                         compression=compression(path))
    if df.shape[1] != FIELDS[fmt]:
        raise InputDataError(f"{path}: {df.shape[1]} tab-separated fields per line; a {fmt} file has {FIELDS[fmt]}")
    df = df.set_index(0)
    if len(df) and pd.to_numeric(df.iloc[0], errors="coerce").isna().any():
        row = "\t".join([str(df.index[0]), *df.iloc[0].astype(str)])
        raise InputDataError(f"{path}: the first line ({row!r}) holds no counts: a header? {fmt} files have none; "
                             "remove it")
    summary = df.index.str.match(SUMMARY_ROWS)
    if summary.any():
        log.info("%s: dropped %d summary rows: %s", path, int(summary.sum()), ", ".join(df.index[summary]))
    return df[~summary]


def star_totals(path) -> dict[str, int]:
    """Sum of each of a STAR ReadsPerGene file's three count columns over its genes (summary rows left out)."""
    df = _read_columns(Path(path), "star")
    return {strand: int(pd.to_numeric(df[col], errors="coerce").fillna(0).sum()) for strand, col in STAR_COLUMNS.items()}


def strand_hint(path) -> str:
    """What a STAR file's column totals say about the library (for the message that asks for counts.strand)."""
    t = star_totals(path)
    forward, reverse = t["forward"], t["reverse"]
    if reverse > 3 * forward:
        guess = "reverse (column 4 holds most reads: a reverse-stranded library such as dUTP / TruSeq Stranded)"
    elif forward > 3 * reverse:
        guess = "forward (column 3 holds most reads)"
    else:
        guess = "unstranded (columns 3 and 4 hold similar numbers: an unstranded library)"
    return (f"its genes hold {t['unstranded']:,} reads unstranded (column 2), {forward:,} forward (column 3), "
            f"{reverse:,} reverse (column 4): likely {guess}")


def check_format_keys(fmt: str, counts: dict) -> None:
    """``counts.strand`` is read only for STAR ReadsPerGene files, ``counts.layer`` for h5ad files,
    ``counts.tx2gene``, ``from_abundance`` and ``tx_id_match`` only for salmon and kallisto files: refuse them
    (set to other than their default, :func:`lsecflow.assay_keys.keys_set`) for any other counts format."""
    for dotted in keys_set({"counts": counts}, [f"counts.{k}" for k, formats in FORMAT_KEYS.items()
                                                if fmt not in formats]):
        key = dotted.split(".", 1)[1]
        if key == "layer":
            raise InputDataError(f"counts.layer is read only for h5ad files (which of the file's matrices holds the "
                                 f"counts), and these counts are {fmt}: remove it")
        if key == "strand":
            raise InputDataError(f"counts.strand is read only for STAR ReadsPerGene files (counts.path a mapping "
                                 f"sample -> file), and these counts are {fmt}: remove it (the strand was chosen "
                                 "when they were counted)")
        raise InputDataError(f"counts.{key} is read only for transcript estimates (salmon quant.sf, kallisto "
                             f"abundance.tsv: counts.path a mapping sample -> file), and these counts are {fmt}: "
                             "remove it")


def check_sample_files(paths: dict[str, str], fmt: str, counts: dict, engine: str = "deseq2") -> None:
    """Parse-time checks of ``counts.path`` as a mapping sample -> file: every file exists and has the format
    ``fmt``; STAR files need ``counts.strand``, salmon and kallisto files ``counts.tx2gene`` that maps the first
    file's transcripts, and their ``"no"`` counts (length offsets) go to DESeq2 or edgeR only (``engine``: the DE
    engine);
    a key set for another format: :func:`check_format_keys`."""
    strand = counts.get("strand")
    for sample, path in paths.items():
        found = detect(path)
        if found != fmt:
            raise InputDataError(f"{path} (sample {sample!r}): a {found} file, but the counts are read as {fmt} "
                                 "(counts.format, or the first file's format)")
    if fmt == "star" and strand is None:
        first = next(iter(paths.values()))
        raise InputDataError(f"STAR ReadsPerGene files need counts.strand (unstranded, forward or reverse): which "
                             f"of their three columns counts your library. {first}: {strand_hint(first)}")
    if fmt in transcripts.QUANT_COLUMNS:
        first = next(iter(paths.values()))
        if not counts.get("tx2gene"):
            beside = [str(p) for p in (Path(first).parent.parent / "tx2gene.tsv", Path(first).parent / "tx2gene.tsv")
                      if p.is_file()]
            raise InputDataError(f"{fmt} files estimate transcripts: counts.tx2gene must map them to genes (a "
                                 "table of transcript id, gene id and optionally gene name, as tximport reads and "
                                 "nf-core/rnaseq writes: tx2gene.tsv), made from the annotation they were "
                                 "quantified against" + (f"; there is one beside them: {beside[0]}" if beside else ""))
        transcripts.check_tx2gene(first, fmt, counts["tx2gene"], counts.get("tx_id_match", "exact"))
        if not counts.get("round"):
            raise InputDataError(f"{fmt} files estimate counts (fractional, e.g. {first}), and so do the gene counts "
                                 "made from them: set counts.round: true to round them to integers, as "
                                 "DESeqDataSetFromTximport does")
        if counts.get("from_abundance") == "no" and engine not in ("deseq2", "edger"):
            raise InputDataError(f'counts.from_abundance: "no" leaves the transcript-length differences between '
                                 "samples in the counts, for DESeq2 or edgeR to correct with tximport's average "
                                 f"transcript lengths (as normalisation factors or offsets); de.engine {engine} "
                                 "here takes no such offset: use lengthScaledTPM (the default; tximport's advice "
                                 "for limma-voom) or de.engine: deseq2 or edger")


def read_sample_files(paths: dict[str, str], fmt: str, counts: dict
                      ) -> tuple[pd.DataFrame, pd.Series | None, pd.DataFrame | None]:
    """Read and merge one count file per sample into a genes x samples int64 frame (columns = the mapping's
    sample ids, genes in the files' order), each file checked as a count matrix is
    (:func:`lsecflow.bulk_counts.checked_counts`); transcript estimates summarised to genes first
    (:func:`lsecflow.transcripts.summarise`), their tx2gene's gene names returned (else None), and with
    ``counts.from_abundance: "no"`` tximport's average transcript lengths (genes x samples; else None), which
    DESeq2 takes as normalisation factors.

    Parameters
    ----------
    paths
        Sample id -> its count file (``counts.path``).
    fmt
        One of :data:`PER_SAMPLE_FORMATS`.
    counts
        The dataset's ``counts`` block (``strand`` for STAR; ``tx2gene``, ``from_abundance`` and
        ``tx_id_match`` for salmon and kallisto; ``round``).
    """
    if fmt in transcripts.QUANT_COLUMNS:
        estimates, names, extra = transcripts.summarise(paths, fmt, counts["tx2gene"], counts["from_abundance"],
                                                    counts["tx_id_match"])
        source = f"counts.path ({len(paths)} {fmt} files summarised to genes)"
        lengths = extra["length"] if counts["from_abundance"] == "no" else None
        return checked_counts(estimates, source, counts).astype(np.int64), names, lengths
    columns, genes = [], None
    first = None
    for sample, path in paths.items():
        path = Path(path)
        if fmt == "featurecounts":
            df, _ = read_bulk(path, "featurecounts", counts)
            if df.shape[1] != 1:
                raise InputDataError(f"{path} (sample {sample!r}): a featureCounts table of {df.shape[1]} samples; "
                                     "give it as counts.path itself, not per sample")
            df.columns = [sample]
        else:
            raw = _read_columns(path, fmt)
            col = STAR_COLUMNS[counts["strand"]] if fmt == "star" else 1
            df = checked_counts(raw[[col]].set_axis([sample], axis=1), path, counts)
        if genes is None:
            genes, first = df.index, path
        elif not df.index.equals(genes):
            extra, missing = df.index.difference(genes), genes.difference(df.index)
            what = (f"{len(missing)} of its genes missing (e.g. {', '.join(missing[:3])}) and {len(extra)} others "
                    f"(e.g. {', '.join(extra[:3])})" if len(extra) or len(missing) else "the same genes in another order")
            raise InputDataError(f"{path} (sample {sample!r}): not the genes of {first}, in its order: {what}. Count "
                                 "every sample against one annotation")
        columns.append(df[sample].to_numpy(dtype=np.int64))
    merged = pd.DataFrame(np.column_stack(columns), index=genes, columns=list(paths))
    merged.index.name = "gene_id"
    log.info("merged %d %s files: %d genes", len(paths), fmt, len(merged))
    return merged, None, None
