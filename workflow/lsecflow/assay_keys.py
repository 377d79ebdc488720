"""Keys that only some assays read, refused on the others at parse time (called by
:func:`lsecflow.config.load_dataset`), so that a setting the dataset's engine would ignore is named instead
of dropped silently: DESeq2's ``de`` keys on a proteomics dataset or under ``de.engine: voom``, limma's on
DESeq2's counts (``de.robust`` is edgeR's too), the ``proteomics``
block off proteomics, the single-cell blocks and QC keys off single-cell data.

A key written with its schema default changes nothing and is let through.
"""
from __future__ import annotations

from .de_options import de_engine
from .errors import ConfigError
from .schema import load_schema

COUNTS, BULK, SINGLE_CELL, PROTEOMICS = ("bulk", "single_cell"), ("bulk",), ("single_cell",), ("proteomics",)
DESEQ2, EBAYES, ROBUST = ("deseq2",), ("voom", "limma"), ("voom", "limma", "edger")
"""DE engines (:func:`lsecflow.de_options.de_engine`): a key may be read by an assay or by an engine."""

DESEQ2_ONLY_KEYS = ("shrink", "fit_type", "size_factors", "cooks_filter", "independent_filter",
                    "independent_filter_alpha")
"""``de`` keys that only DESeq2 (counts, ``de.engine: deseq2``) reads."""
COUNT_KEYS = ("engine", "min_count", "min_samples")
"""``de`` keys of count assays, whichever engine."""
EBAYES_KEYS = ("trend",)
"""``de`` keys of limma's eBayes: proteomics, and counts with ``de.engine: voom``."""
LIMMA_ONLY_KEYS = ("lm_method", "deqms")
"""``de`` keys that only limma on proteins reads."""
BULK_COUNT_KEYS = ("files_column", "id_column", "name_column", "drop_columns", "round")
"""``counts`` keys of bulk count tables and files only (single-cell matrices and protein tables have their own
layouts: ``proteomics.id_column``, ``gene_column``)."""
SINGLE_CELL_QC_KEYS = ("nmads", "min_counts", "min_genes", "max_mito_fraction", "remove_doublets", "doublets",
                       "filter_cells", "n_hvg", "n_pcs", "leiden_resolution")
"""``qc`` keys of single-cell QC only."""

ASSAY_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    **{f"de.{k}": (DESEQ2, "DESeq2's, for count assays with de.engine deseq2") for k in DESEQ2_ONLY_KEYS},
    **{f"de.{k}": (COUNTS, "for count assays only") for k in COUNT_KEYS},
    **{f"de.{k}": (EBAYES, "limma's eBayes options, for assay proteomics or de.engine voom")
       for k in EBAYES_KEYS},
    "de.robust": (ROBUST, "limma's eBayes(robust) or edgeR's glmQLFit(robust), for assay proteomics or de.engine "
                  "voom or edger"),
    **{f"de.{k}": (PROTEOMICS, "limma's, for assay proteomics only") for k in LIMMA_ONLY_KEYS},
    "de.sample_weights": (EBAYES, "limma's sample quality weights (voomWithQualityWeights, arrayWeights), for assay "
                          "proteomics or de.engine voom"),
    "de.block": (EBAYES, "limma's random block effect (DESeq2 has none: put the column in the design), for assay "
                 "proteomics or de.engine voom"),
    **{f"proteomics.{k}": (PROTEOMICS, "for assay proteomics only")
       for k in load_schema("dataset")["properties"]["proteomics"]["properties"]},
    **{f"{section}.{k}": (SINGLE_CELL, "for assay single_cell only")
       for section in ("single_cell", "pseudobulk", "composition")
       for k in load_schema("dataset")["properties"][section]["properties"]},
    **{f"qc.{k}": (SINGLE_CELL, "single-cell QC's, for assay single_cell only") for k in SINGLE_CELL_QC_KEYS},
    **{f"counts.{k}": (BULK, "bulk count tables', for assay bulk only (a protein table's columns: proteomics.id_column, "
                       "gene_column)") for k in BULK_COUNT_KEYS},
    "counts.layer": (SINGLE_CELL, "an h5ad's, for assay single_cell only"),
    **{f"paracrine.{k}": (SINGLE_CELL, "single-cell receivers', for assay single_cell only")
       for k in ("liana", "liana_permutations")},
}
"""``section.key`` -> (the assays or DE engines that read it, what to say elsewhere)."""


def keys_set(spec: dict, keys) -> list[str]:
    """Those of ``keys`` (``section.key``) that ``spec`` gives a value other than their schema default."""
    props = load_schema("dataset")["properties"]
    out = []
    for dotted in keys:
        section, key = dotted.split(".", 1)
        block = spec.get(section) or {}
        if key in block and block[key] != props[section]["properties"][key].get("default", object()):
            out.append(dotted)
    return out


def check_keys_for_assay(spec: dict, source: str) -> None:
    """Refuse keys that the dataset's assay and DE engine do not read (:data:`ASSAY_KEYS`), each named, grouped
    by why."""
    readers = {spec["assay"], de_engine(spec)}
    wrong = keys_set(spec, [k for k, (who, _) in ASSAY_KEYS.items() if not readers & set(who)])
    if not wrong:
        return
    by_reason: dict[str, list[str]] = {}
    for key in wrong:
        by_reason.setdefault(ASSAY_KEYS[key][1], []).append(key)
    said = "; ".join(f"{', '.join(keys)} {'is' if len(keys) == 1 else 'are'} {why}" for why, keys in by_reason.items())
    engine = f" with de.engine {de_engine(spec)!r}" if spec["assay"] != "proteomics" else ""
    raise ConfigError(f"{source}: assay {spec['assay']!r}{engine} does not read key(s) set here: {said}. Remove them "
                      "(nothing is applied silently)")


FORMAT_KEYS: dict[str, tuple[str, ...]] = {
    "proteomics.id_column": ("protein_table", "peptide_table"),
    "proteomics.gene_column": ("protein_table", "peptide_table"),
    "proteomics.protein_column": ("peptide_table",),
    "proteomics.organism": ("fragpipe",),
    "proteomics.intensity": ("maxquant", "maxquant_peptides", "fragpipe"),
    "proteomics.remove_flagged": ("maxquant", "maxquant_peptides", "fragpipe"),
    "proteomics.summarise": ("maxquant_peptides", "diann_report", "spectronaut_report", "peptide_table"),
    "proteomics.qvalue": ("diann_report", "spectronaut_report"),
    "proteomics.qvalue_columns": ("diann_report", "spectronaut_report"),
    "proteomics.quantity_column": ("diann_report", "spectronaut_report"),
    "proteomics.proteotypic_only": ("diann_report",),
    "proteomics.count_column": ("maxquant", "fragpipe", "diann", "spectronaut", "protein_table"),
}
"""``proteomics`` keys that only some table formats read -> those formats (the others have the columns fixed,
no organism column, no flagged rows, no peptides to summarise, or their count made from the peptides)."""


def check_keys_for_format(spec: dict, fmt: str, source: str) -> None:
    """Refuse ``proteomics`` keys set for a table format that does not read them (:data:`FORMAT_KEYS`): a
    ``gene_column`` on a MaxQuant table would be dropped silently."""
    wrong = keys_set(spec, [k for k, fmts in FORMAT_KEYS.items() if fmt not in fmts])
    if wrong:
        said = "; ".join(f"{k} is read for {', '.join(FORMAT_KEYS[k][:-1])}{' and ' if len(FORMAT_KEYS[k]) > 1 else ''}"
                         f"{FORMAT_KEYS[k][-1]} tables" for k in wrong)
        raise ConfigError(f"{source}: counts.format is {fmt!r}, which does not read key(s) set here: {said}. Remove "
                          "them (nothing is applied silently)")
