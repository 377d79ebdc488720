"""The DE stage's files: their columns, and the writers the DESeq2 (:mod:`lsecflow.de`) and limma
(:mod:`lsecflow.de_proteomics`) entry points share."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pandas as pd

from .calls import sizes_note, sort_results, summarize, tested_counts
from .files import atomic_path, write_tsv_atomic
from .lrdb import load_factors

log = logging.getLogger("lsecflow.de")

RESULT_COLUMNS = ["gene_id", "symbol", "baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]
LOO_COLUMNS = ["symbol", "gene_id", "left_out", "log2FoldChange", "pvalue", "padj"]
#: Output files of each contrast (and of the LRT table), in the order the rule declares them.
OUTPUT_KINDS = ("table", "summary", "normalized", "vst", "loo")


def write_skipped(files: dict, name: str, msg: str, opts: dict) -> None:
    """Empty files of a contrast that cannot be tested, its summary saying why."""
    summ = summarize(pd.DataFrame(columns=RESULT_COLUMNS), opts["alpha"], opts["lfc_threshold"])
    summ.insert(0, "contrast", name)
    summ["status"] = f"skipped: {msg}"
    empty = pd.DataFrame(columns=["gene_id"])
    write_tsv_atomic(summ, files["summary"])
    write_tsv_atomic(empty, files["normalized"])
    write_tsv_atomic(empty, files["vst"])
    write_tsv_atomic(pd.DataFrame(columns=RESULT_COLUMNS), files["table"])
    write_tsv_atomic(pd.DataFrame(columns=LOO_COLUMNS), files["loo"])


def write_tested(files: dict, name: str, res: pd.DataFrame, opts: dict, sizes: dict | None = None) -> None:
    """One contrast's table and its summary (with ``sizes``, :func:`lsecflow.calls.group_sizes`, the samples
    on each side)."""
    summ = summarize(res, opts["alpha"], opts["lfc_threshold"], sizes)
    summ.insert(0, "contrast", name)
    summ["status"] = "tested"
    log.info("%s: %d up, %d down at padj < %g%s", name, summ.at[0, "up"], summ.at[0, "down"], opts["alpha"],
             sizes_note(summ.iloc[0]))
    write_tsv_atomic(summ, files["summary"])
    write_tsv_atomic(res, files["table"])


def write_shared(matrices: dict[str, pd.DataFrame], outputs: dict, names: list[str]) -> None:
    """Matrices one fit gives every contrast (``normalized``, ``vst``): written once, to the first
    contrast's file, and copied byte for byte for the others."""
    first = outputs[names[0]]
    for kind, table in matrices.items():
        write_tsv_atomic(table, first[kind])
        for name in names[1:]:
            with atomic_path(outputs[name][kind]) as tmp:
                shutil.copyfile(first[kind], tmp)


def write_loo(loo: dict[str, pd.DataFrame], outputs: dict) -> None:
    """Each contrast's leave-one-out refits (``loo`` file)."""
    for name, table in loo.items():
        write_tsv_atomic(table, outputs[name]["loo"])


def loo_factors(spec: dict) -> set[str] | None:
    """The paracrine factors whose calls are refitted without each sample, or None when the
    paracrine step or its robustness check is off."""
    par = spec["paracrine"]
    return set(load_factors(par["factors"]).index) if par["enabled"] and par["robustness"] else None


def write_lrt(table: pd.DataFrame, spec: dict, lrt: dict, test: str = "LRT") -> None:
    """``de.test: lrt``: the design test's table (DESeq2's likelihood ratio test, limma's moderated F) and its
    one-row summary."""
    opts = spec["de"]
    counts = tested_counts(table)  # no up / down: the design test has no single fold change
    summ = pd.DataFrame({"test": [f"{test} {spec['design']} vs {opts['reduced']}"],
                         "significant": [int((table["padj"] < opts["alpha"]).sum())],
                         **{k: [v] for k, v in counts.items()}, "alpha": [opts["alpha"]], "status": ["tested"]})
    log.info("%s %s vs %s: %d genes at padj < %g", test, spec["design"], opts["reduced"],
             summ.at[0, "significant"], opts["alpha"])
    write_tsv_atomic(summ, lrt["summary"])
    write_tsv_atomic(table, lrt["table"])


def lrt_files(out) -> dict | None:
    """A DE job's design-test files from its Snakemake outputs (``lrt_table``, ``lrt_summary``), or None."""
    return {"table": out.lrt_table, "summary": out.lrt_summary} if "lrt_table" in out.keys() else None


def with_ids(table: pd.DataFrame, symbols: pd.Series) -> pd.DataFrame:
    """A statistics table indexed by feature id as a DE table: ``gene_id`` and ``symbol`` (from ``symbols``)
    first, a plain index."""
    t = table.copy()
    t.insert(0, "symbol", symbols.reindex(t.index).to_numpy())
    t.insert(0, "gene_id", t.index.astype(str))
    return t.reset_index(drop=True)


def design_test_table(ftable: pd.DataFrame, symbols: pd.Series) -> pd.DataFrame:
    """limma's design test (:func:`lsecflow.limma.design_test`, index = feature ids) as a DE table
    (:func:`with_ids`), sorted as the contrast tables."""
    return sort_results(with_ids(ftable, symbols))


def with_design_test(table: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """A limma contrast table after ``de.test: lrt``: its ``stat``, ``pvalue`` and ``padj`` are the design
    test's (:func:`design_test_table`), as DESeq2's contrast tables after an LRT carry the LRT's; the
    contrast's own ``log2FoldChange`` and ``lfcSE`` stay; ``B`` (the contrast's log-odds) is NA."""
    f = design.set_index("gene_id").reindex(table["gene_id"].astype(str))
    out = table.assign(stat=f["stat"].to_numpy(), pvalue=f["pvalue"].to_numpy(), padj=f["padj"].to_numpy())
    if "B" in out:
        out["B"] = np.nan
    return sort_results(out)


def write_lrt_skipped(lrt: dict, why: str) -> None:
    """Empty LRT files, the summary saying why."""
    write_tsv_atomic(pd.DataFrame({"test": ["LRT"], "status": [f"skipped: {why}"]}), lrt["summary"])
    write_tsv_atomic(pd.DataFrame(columns=RESULT_COLUMNS), lrt["table"])


BLOCK_COLUMNS = ["block", "blocks", "samples", "correlation", "rounds", "features", "note"]
"""Columns of ``de/[<cell type>/]design.block.tsv`` (``de.block``)."""


def write_block(block, path: str) -> None:
    """``de.block``'s file: the block column, the number of blocks and of samples, the consensus correlation
    the fit used, each round's consensus (``;``-separated: voom's recipe has two), the features it was estimated
    over, and limma's reason when it is 0 without an estimate. ``block`` None (no contrast testable): the
    header only."""
    if block is None:
        write_tsv_atomic(pd.DataFrame(columns=BLOCK_COLUMNS), path)
        return
    write_tsv_atomic(pd.DataFrame({"block": [block.column], "blocks": [len(set(block.labels))],
                                   "samples": [len(block.labels)], "correlation": [block.correlation],
                                   "rounds": [";".join(f"{r:.6g}" for r in block.rounds)],
                                   "features": [block.genes], "note": [block.note]}), path)
