"""The DE rule's entry point: the dataset's engine (:func:`lsecflow.de_options.de_engine`) chooses the function.

One script serves every dataset's ``de_<dataset>`` rule. Choosing the script in the rule itself does not work
for rules made in a loop: Snakemake evaluates a ``script:`` expression when the job runs, after the loop has
ended, so every dataset got the last dataset's engine (a DESeq2 dataset ran limma on proteins when a proteomics
dataset came last in the config).
"""
from __future__ import annotations

import pandas as pd

from .de import run_de
from .de_edger import run_de_edger
from .de_options import de_engine
from .de_proteomics import run_de_proteomics
from .de_voom import run_de_voom


def run_de_job(counts_h5ad: str, params: dict, outputs: dict, *, lrt: dict | None = None,
               cell_type: str | None = None, seed: int = 0, sample_weights: str | None = None,
               dispersions: str | None = None, block: str | None = None) -> dict[str, pd.DataFrame]:
    """Rule entry point of DE: :func:`lsecflow.de.run_de` (DESeq2; ``dispersions``),
    :func:`lsecflow.de_edger.run_de_edger` (edgeR QL; ``dispersions``), :func:`lsecflow.de_voom.run_de_voom` or
    :func:`lsecflow.de_proteomics.run_de_proteomics` (``seed``), by the
    engine of ``params['spec']``; each gets ``outputs``, ``lrt`` and ``cell_type``, the two limma engines
    ``sample_weights`` and ``block`` (the files of ``de.sample_weights`` and ``de.block``)."""
    engine = de_engine(params["spec"])
    if engine == "edger":
        return run_de_edger(counts_h5ad, params, outputs, lrt=lrt, cell_type=cell_type, dispersions=dispersions)
    if engine == "voom":
        return run_de_voom(counts_h5ad, params, outputs, lrt=lrt, cell_type=cell_type, sample_weights=sample_weights,
                           block=block)
    if engine == "limma":
        return run_de_proteomics(counts_h5ad, params, outputs, seed=seed, lrt=lrt, cell_type=cell_type, block=block,
                                 sample_weights=sample_weights)
    return run_de(counts_h5ad, params, outputs, lrt=lrt, cell_type=cell_type, dispersions=dispersions)
