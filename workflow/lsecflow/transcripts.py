"""Transcript estimates of one sample per file -- salmon's ``quant.sf``, kallisto's ``abundance.tsv`` --
summarised to genes as tximport (Soneson, Love & Robinson 2015; R package 1.26) does, ported rule by rule
from its ``summarizeToGene`` and ``makeCountsFromAbundance``:

- transcripts are mapped to genes by ``counts.tx2gene`` (transcript id, gene id, and optionally a gene name:
  tximport's two-column table, or nf-core/rnaseq's ``tx2gene.tsv`` of three); transcripts it lacks are left
  out and counted in the log, as tximport does (none matching is an error naming examples of both);
- a gene's estimated count and TPM are the sums over its transcripts; its length is the average of their
  effective lengths weighted by TPM (in a sample where every transcript of the gene has TPM 0: the geometric
  mean of its lengths in the other samples, or, in none, the plain mean of its transcripts' lengths);
- ``counts.from_abundance`` (tximport's ``countsFromAbundance``): ``lengthScaledTPM`` (default) makes counts
  from TPM x the gene's mean length over samples, scaled to the sample's summed estimated counts -- tximport's
  advice for tools that take no length offset, as every DE engine here does; ``scaledTPM`` TPM scaled to
  the same total; ``no`` the summed estimated counts.

The counts are fractional; ``counts.round: true`` rounds them (:func:`lsecflow.bulk_counts.checked_counts`).
Agreement with R tximport on real salmon and kallisto files (tests/data/tximport): tests/unit/test_transcripts.py.
"""
from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputDataError
from .files import check_exists, compression, first_lines, reading

log = logging.getLogger(__name__)

#: the header of each quantifier's file: (transcript id, effective length, TPM, estimated count) columns
QUANT_COLUMNS = {"salmon": ("Name", "EffectiveLength", "TPM", "NumReads"),
                 "kallisto": ("target_id", "eff_length", "tpm", "est_counts")}
FROM_ABUNDANCE = ("no", "scaledTPM", "lengthScaledTPM")
#: the ``counts.h5ad`` layer of tximport's average transcript lengths (samples x genes), written by ingest with
#: ``counts.from_abundance: "no"``: DESeq2's normalisation factors (:func:`lsecflow.deseq2.tx_length_factors`)
TX_LENGTH_LAYER = "avg_tx_length"
#: ``counts.tx_id_match`` -> what is cut from transcript ids before matching: tximport's ignoreTxVersion (here a
#: trailing ``.N`` only, so GENCODE's ``.N_PAR_Y`` copies stay apart from their X originals, which tximport's
#: "from the first dot" merges) and ignoreAfterBar (from the first bar: GENCODE FASTA headers indexed without
#: salmon's --gencode)
TRIM = {"exact": None, "ignore_version": re.compile(r"\.\d+(?=(_PAR_Y)?$)"), "ignore_after_bar": re.compile(r"\|.*$")}


def detect(header: str) -> str | None:
    """The quantifier whose file starts with ``header`` (its first line), or None."""
    fields = header.split("\t")
    for fmt, (ident, length, tpm, count) in QUANT_COLUMNS.items():
        if fields[0] == ident and {length, tpm, count} <= set(fields):
            return fmt
    return None


#: the file each quantifier writes in a sample's output folder
QUANT_FILES = ("quant.sf", "quant.sf.gz", "abundance.tsv", "abundance.tsv.gz")


def quant_folder(folder) -> dict[str, str]:
    """Sample id -> quantification file of a folder holding one subfolder per sample, as salmon and kallisto
    write them and nf-core/rnaseq publishes them (``star_salmon/<sample>/quant.sf``): the subfolder's name is the
    sample id; subfolders without such a file (logs, QC) are passed over and said."""
    folder = Path(folder)
    found, other = {}, []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        hit = next((sub / name for name in QUANT_FILES if (sub / name).is_file()), None)
        if hit is None:
            other.append(sub.name)
        else:
            found[sub.name] = str(hit)
    if not found:
        raise InputDataError(f"{folder} is a folder, and none of its subfolders holds a {' or '.join(QUANT_FILES[::2])} "
                             "(one subfolder per sample, as salmon and kallisto write them); a bulk counts file "
                             "goes in counts.path itself (a 10x mtx folder is single-cell data: assay "
                             "single_cell)")
    if other:
        log.info("%s: %d sample folders with transcript estimates; passed over (no %s): %s", folder, len(found),
                 " or ".join(QUANT_FILES[::2]), ", ".join(other))
    return found


def read_quant(path, fmt: str) -> pd.DataFrame:
    """One sample's transcripts: index = transcript id (file order), float columns length, abundance, counts."""
    path = Path(path)
    check_exists(path)
    ident, length, tpm, count = QUANT_COLUMNS[fmt]
    with reading(path, fmt):
        df = pd.read_csv(path, sep="\t", dtype={ident: str}, quoting=csv.QUOTE_NONE, compression=compression(path))
    missing = [c for c in (ident, length, tpm, count) if c not in df.columns]
    if missing:
        raise InputDataError(f"{path}: not a {fmt} file: no column {', '.join(missing)} in its header")
    out = df.set_index(ident)[[length, tpm, count]].set_axis(["length", "abundance", "counts"], axis=1)
    for col, name in ((length, "length"), (tpm, "abundance"), (count, "counts")):
        values = pd.to_numeric(out[name], errors="coerce")
        bad = values.isna() | (values < 0) | ~np.isfinite(values.fillna(0))
        if bad.any():
            tx = out.index[bad.to_numpy()][0]
            raise InputDataError(f"{path}: transcript {tx!r}, column {col}: {out.loc[tx, name]!r} is not a "
                                 f"non-negative number ({int(bad.sum())} such values)")
        out[name] = values.astype(float)
    return out


def read_tx2gene(path, transcripts=None, match: str = "exact") -> pd.DataFrame:
    """``counts.tx2gene``: columns transcript, gene and, when the table has a third column, name; tab- or
    comma-separated by its first line. The first line is a header when its transcript is not one of
    ``transcripts`` (the quantified ids): a mapping row of a transcript never quantified changes nothing.
    ``match``: transcript ids trimmed as :data:`TRIM` says. Duplicated transcripts keep their first row, as
    tximport's ``cleanTx2Gene`` does."""
    path = Path(path)
    check_exists(path)
    first = first_lines(path, 1)[0]
    sep = "\t" if "\t" in first else ","
    with reading(path, "tsv" if sep == "\t" else "csv"):
        df = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False, compression=compression(path))
    if df.shape[1] < 2:
        raise InputDataError(f"{path}: a tx2gene table needs two columns (transcript id, gene id), tab- or "
                             f"comma-separated; its first line is {first!r}")
    df = df.iloc[:, :3].set_axis(["transcript", "gene", "name"][:min(3, df.shape[1])], axis=1)
    df["transcript"] = trim_ids(df["transcript"], match)
    if transcripts is None or df.iloc[0, 0] not in set(transcripts):
        df = df.iloc[1:]
    df = df[df["transcript"] != ""]
    dup = df["transcript"].duplicated()
    if dup.any():
        log.info("%s: %d duplicated transcript rows left out (the first kept)", path, int(dup.sum()))
        df = df[~dup]
    return df.set_index("transcript")


def trim_ids(ids, match: str = "exact") -> pd.Index:
    """Transcript ids as ``counts.tx_id_match`` compares them: ``ignore_version`` cuts the version
    (``ENSMUST00000000001.4`` -> ``ENSMUST00000000001``, ``ENST00000381192.10_PAR_Y`` ->
    ``ENST00000381192_PAR_Y``), ``ignore_after_bar`` everything from the first bar
    (``ENST00000456328.2|ENSG00000290825.1|...`` -> ``ENST00000456328.2``), ``exact`` nothing."""
    ids = pd.Index(ids).astype(str)
    return ids if TRIM[match] is None else ids.str.replace(TRIM[match], "", regex=True)


def check_tx2gene(quant_path, fmt: str, tx2gene_path, match: str = "exact") -> None:
    """Parse-time check that the first sample's transcripts are found in ``counts.tx2gene`` (tximport's own
    stop), with examples of both and, when trimming the ids another way would match them, the setting."""
    tx = pd.read_csv(quant_path, sep="\t", usecols=[0], dtype=str, compression=compression(quant_path)).iloc[:, 0]
    ids = trim_ids(tx, match)
    table = read_tx2gene(tx2gene_path, ids, match)
    if ids.isin(table.index).any():
        return
    other = [m for m in TRIM if m != match and trim_ids(tx, m).isin(trim_ids(table.index, m)).any()]
    hint = (f"; compared as counts.tx_id_match: {other[0]} says they match (set it, or use the tx2gene of the "
            "annotation you quantified against)" if other else ": is it the same annotation?")
    raise InputDataError(f"{quant_path}: none of its {len(ids):,} transcripts is in the first column of "
                         f"counts.tx2gene {tx2gene_path} (file: {', '.join(ids[:3])}, ...; tx2gene: "
                         f"{', '.join(table.index[:3])}, ...){hint}")


def _lengths(length_tx: np.ndarray, abundance_tx: np.ndarray, abundance: np.ndarray, codes: np.ndarray,
             n_genes: int) -> np.ndarray:
    """tximport's gene lengths: TPM-weighted mean of the transcripts' effective lengths, with its
    ``replaceMissingLength`` where a gene has TPM 0 in a sample."""
    weighted = _rowsum(abundance_tx * length_tx, codes, n_genes)
    with np.errstate(invalid="ignore", divide="ignore"):
        length = weighted / abundance
    missing = np.isnan(length)
    if missing.any():
        per_tx = length_tx.mean(axis=1)
        average = np.bincount(codes, per_tx, n_genes) / np.bincount(codes, minlength=n_genes)
        for i in np.flatnonzero(missing.any(axis=1)):
            row = length[i]
            gaps = np.isnan(row)
            row[gaps] = average[i] if gaps.all() else np.exp(np.mean(np.log(row[~gaps])))
    return length


def _rowsum(values: np.ndarray, codes: np.ndarray, n_genes: int) -> np.ndarray:
    return np.column_stack([np.bincount(codes, values[:, j], n_genes) for j in range(values.shape[1])])


def summarise(paths: dict[str, str], fmt: str, tx2gene_path, from_abundance: str = "lengthScaledTPM",
              match: str = "exact") -> tuple[pd.DataFrame, pd.Series | None, dict]:
    """Per-sample transcript estimates -> genes x samples counts, as tximport makes them.

    Parameters
    ----------
    paths
        Sample id -> its ``quant.sf`` / ``abundance.tsv`` (every file the same transcripts in the same order).
    fmt
        ``salmon`` or ``kallisto``.
    tx2gene_path
        ``counts.tx2gene`` (:func:`read_tx2gene`).
    from_abundance
        tximport's ``countsFromAbundance``: one of :data:`FROM_ABUNDANCE`.
    match
        How transcript ids are compared (:func:`trim_ids`; tximport's ``ignoreTxVersion`` / ``ignoreAfterBar``,
        here applied to both sides).

    Returns
    -------
    (pandas.DataFrame, pandas.Series or None, dict)
        Fractional counts (index ``gene_id``, genes in the order the files first name them; columns = the
        samples), the tx2gene's gene names (None without a third column), and ``abundance`` / ``length``
        frames of the same shape (tximport's ``abundance`` and ``length``).
    """
    if from_abundance not in FROM_ABUNDANCE:
        raise ValueError(f"from_abundance {from_abundance!r}: one of {', '.join(FROM_ABUNDANCE)}")
    quants, first = [], None
    for sample, path in paths.items():
        q = read_quant(path, fmt)
        if first is None:
            first = (q.index, path)
        elif not q.index.equals(first[0]):
            raise InputDataError(f"{path} (sample {sample!r}): not the transcripts of {first[1]}, in its order "
                                 f"({len(q):,} vs {len(first[0]):,}): quantify every sample against one index")
        quants.append(q)
    ids = trim_ids(first[0], match)
    table = read_tx2gene(tx2gene_path, ids, match)
    known = ids.isin(table.index)
    if not known.any():
        raise InputDataError(f"{first[1]}: none of its transcripts is in counts.tx2gene {tx2gene_path}")
    if not known.all():
        log.warning("%d of %d transcripts are not in counts.tx2gene %s and are left out (as tximport does), e.g. %s",
                    int((~known).sum()), len(ids), tx2gene_path, ", ".join(ids[~known][:5]))
    gene_of_tx = table.loc[ids[known], "gene"].to_numpy()
    codes, genes = pd.factorize(gene_of_tx)
    n = len(genes)
    stack = {k: np.column_stack([q[k].to_numpy()[known] for q in quants]) for k in ("length", "abundance", "counts")}
    abundance = _rowsum(stack["abundance"], codes, n)
    counts = _rowsum(stack["counts"], codes, n)
    length = _lengths(stack["length"], stack["abundance"], abundance, codes, n)
    if from_abundance != "no":
        new = abundance * length.mean(axis=1, keepdims=True) if from_abundance == "lengthScaledTPM" else abundance
        counts = new * (counts.sum(axis=0) / new.sum(axis=0))
    index = pd.Index(genes, name="gene_id", dtype=str)

    def frame(values):
        return pd.DataFrame(values, index=index, columns=list(paths))

    names = None
    if "name" in table.columns:
        names = table.loc[ids[known], ["gene", "name"]].drop_duplicates("gene").set_index("gene")["name"]
        names = names.reindex(index)
    log.info("%d %s files: %d of %d transcripts summarised to %d genes (tximport, countsFromAbundance = %s)",
             len(paths), fmt, int(known.sum()), len(ids), n, from_abundance)
    return frame(counts), names, {"abundance": frame(abundance), "length": frame(length)}
