"""A dataset's ``de:`` block: its parse-time checks (called by :func:`lsecflow.config.load_dataset`: DESeq2's
test, reduced design, shrinkage and fold-change threshold against the design; DEqMS's needs), the meaning of
``de.shrink`` (:func:`shrink_method`, read by the DE job and the methods text) and of ``de.engine``
(:func:`de_engine`, with each engine's labels). Which ``de`` keys each assay
reads: :mod:`lsecflow.assay_keys`."""
from __future__ import annotations

from .errors import ConfigError
from .formula import design_terms, parse_design
from .limma_block import block_in_design
from .schema import load_schema
from .sheets import check_design_values


def check_de_test(source, spec, columns) -> None:
    """``de.test: lrt`` needs ``de.reduced``: a design whose terms are a strict subset of the full design's.
    Shrinkage needs a design without interaction terms (as DESeq2's ``lfcShrink(type = "normal")``)."""
    de = spec["de"]
    interactions = sorted(t for t in design_terms(spec["design"]) if ":" in t)
    numeric = sorted(set(spec.get("numeric", [])) & set(parse_design(spec["design"], columns, source)))
    if de["shrink"] and numeric:
        raise ConfigError(f"{source}: key 'de.shrink': LFC shrinkage is not available with a numeric design column "
                          f"({', '.join(numeric)}); set 'shrink: false'")
    if de["shrink"] and interactions:
        raise ConfigError(f"{source}: key 'de.shrink': LFC shrinkage is not available for a design with interaction "
                          f"terms ({', '.join(interactions)} in {spec['design']!r}); set 'shrink: false'")
    if de["test"] != "lrt":
        if "reduced" in de:
            raise ConfigError(f"{source}: key 'de.reduced' is set but de.test is {de['test']!r}; "
                              "set 'de.test: lrt' to use it, or remove de.reduced")
        return
    if de.get("lfc_threshold", 0):
        raise ConfigError(f"{source}: key 'de.lfc_threshold' is {de['lfc_threshold']} with de.test 'lrt'; a test "
                          "against a fold-change threshold is a Wald test (DESeq2 refuses it for the LRT): set "
                          "'de.test: wald', or 'de.lfc_threshold: 0'")
    if "reduced" not in de:
        raise ConfigError(f"{source}: key 'de.test' is 'lrt', which needs a reduced design: add "
                          "de.reduced, e.g. 'reduced: \"~ 1\"' (or '~ batch' to test the other terms)")
    parse_design(de["reduced"], columns, source, key="de.reduced")
    full, reduced = design_terms(spec["design"]), design_terms(de["reduced"])
    extra = sorted(reduced - full)
    if extra:
        raise ConfigError(f"{source}: key 'de.reduced': term(s) {', '.join(extra)} of {de['reduced']!r} are not "
                          f"in the design {spec['design']!r}; the reduced design must drop terms, not add them")
    if reduced == full:
        raise ConfigError(f"{source}: key 'de.reduced': {de['reduced']!r} has every term of the design "
                          f"{spec['design']!r}; drop the term(s) to test")


def check_robust_fit(source, spec) -> None:
    """``lm_method: robust`` (proteins) takes neither ``de.block`` (R's robust lmFit ignores a block) nor
    ``de.sample_weights`` (the port's M-estimation has no prior weights)."""
    de = spec["de"]
    if de.get("lm_method") != "robust":
        return
    for key, why in (("block", "limma's robust lmFit ignores a block"),
                     ("sample_weights", "the robust lmFit here takes no sample weights")):
        if de.get(key):
            raise ConfigError(f"{source}: key 'de.{key}' does not go with de.lm_method: robust ({why}): drop one of "
                              "them")


def check_block(source, spec, sheet, sheet_path, design_columns) -> None:
    """``de.block`` (limma's random block effect: duplicateCorrelation, lmFit(block, correlation)) names a sheet
    column that is not in the design, has a value for every sample (and the sheet hygiene of design columns:
    no padded values, missing-value markers or levels differing only in case), and puts at least two of the fitted samples
    (those not in ``qc.exclude``) in one block, in fewer blocks than the samples less one; the design must not
    already hold it (limma would set the correlation to 0). With ``lm_method: robust``:
    :func:`check_robust_fit`."""
    de = spec["de"]
    column = de.get("block")
    if not column:
        return
    key = f"{source}: key 'de.block'"
    if column not in sheet.columns:
        raise ConfigError(f"{key}: column {column!r} is not in sample sheet {sheet_path} "
                          f"(columns: {', '.join(sheet.columns)})")
    if column in design_columns:
        raise ConfigError(f"{key}: column {column!r} is in the design {spec['design']!r} (a fixed effect); a block "
                          "is modelled as a random effect instead: remove it from the design or from de.block")

    fitted = sheet[~sheet.index.isin(spec["qc"].get("exclude", []))]
    labels = fitted[column]
    missing = labels.isna() | (labels.astype(str).str.strip() == "")
    if missing.any():
        raise ConfigError(f"{key}: sample(s) {', '.join(map(str, labels.index[missing]))} have no value in column "
                          f"{column!r} of {sheet_path}; every fitted sample needs its block")
    check_design_values(fitted, [column], sheet_path, role="de.block")  # 'Mouse1 ' or 'mouse1' would split a block
    sizes = labels.astype(str).value_counts()
    if sizes.max() < 2:
        raise ConfigError(f"{key}: every value of column {column!r} in {sheet_path} is a different block (one sample "
                          "each): there are no repeated measures to correlate. Name the column that groups samples "
                          "(the mouse, litter, donor or batch they share)")
    if len(sizes) >= len(labels) - 1:
        raise ConfigError(f"{key}: column {column!r} makes {len(sizes)} blocks of {len(labels)} samples; limma "
                          "estimates a within-block correlation only from fewer blocks than the samples less one")
    if _block_in_design(spec, fitted, column, design_columns):
        raise ConfigError(f"{key}: the blocks of column {column!r} are already told apart by the design "
                          f"{spec['design']!r} (each block lies within one combination of its levels): the "
                          "correlation cannot be estimated (limma sets it to 0). Drop de.block, or the design term")


def _block_in_design(spec, sheet, column, design_columns) -> bool:
    """Whether the design, built on the sheet, already tells the blocks apart
    (:func:`lsecflow.limma_block.block_in_design`, limma's test)."""
    import numpy as np
    import patsy

    data = sheet[design_columns].astype(str).reset_index(drop=True)
    for col in set(spec.get("numeric", [])) & set(design_columns):
        data[col] = data[col].astype(float)
    X = np.asarray(patsy.dmatrix(spec["design"], data)) if design_columns else np.ones((len(sheet), 1))
    return block_in_design(X, sheet[column].astype(str).to_numpy())


def check_deqms(source, spec, counted: bool = False) -> None:
    """``de.deqms`` needs ``proteomics.count_column``, which nothing else reads (unless ``counted``: a peptide or
    precursor table, :data:`lsecflow.protein_tables.PEPTIDE_FORMATS`, gives each protein's number of them);
    DEqMS replaces eBayes's prior, so eBayes's ``trend`` and ``robust`` and ``treat``'s ``lfc_threshold`` cannot
    go with it."""
    if spec["assay"] != "proteomics":
        return
    de, column = spec["de"], spec["proteomics"].get("count_column")
    if not de.get("deqms"):
        if column:
            raise ConfigError(f"{source}: key 'proteomics.count_column' is set but only DEqMS reads it: set "
                              "'de.deqms: true' (or loess / nls / spline), or remove count_column")
        return
    if not column and not counted:
        raise ConfigError(f"{source}: key 'de.deqms' needs each protein's peptide or PSM count: set "
                          "proteomics.count_column (e.g. 'Razor + unique peptides' for MaxQuant, 'Combined Total "
                          "Peptides' for FragPipe)")
    clash = [f"de.{k}" for k in ("trend", "robust", "lfc_threshold") if de.get(k)]
    clash += ["de.test: lrt"] if de.get("test") == "lrt" else []
    if clash:
        raise ConfigError(f"{source}: key 'de.deqms' cannot go with {', '.join(clash)}: DEqMS replaces eBayes's prior "
                          "(trend, robust) and has neither a test against a fold-change threshold (treat) nor an F "
                          f"test of several terms (lrt); remove {'it' if len(clash) == 1 else 'them'}, or set "
                          "'de.deqms: false'")


ENGINE_LABELS = {"deseq2": "DESeq2", "voom": "limma-voom", "edger": "edgeR QL", "limma": "limma"}
"""Each DE engine's name in logs and texts."""
LEVELS = {"deseq2": ("baseMean", "mean of normalised counts"), "voom": ("AveExpr", "mean log2 CPM"),
          "edger": ("logCPM", "average log2 CPM"),
          "limma": ("AveExpr", "mean log2 intensity")}
"""Each engine's mean-level column in the DE table and its axis label."""
def level_column(table) -> str:
    """The mean-level column a DE table has (:data:`LEVELS`: baseMean, AveExpr or logCPM)."""
    for column, _ in LEVELS.values():
        if column in table:
            return column
    raise KeyError(f"a DE table has none of the level columns {sorted({c for c, _ in LEVELS.values()})}")


VALUES = {"deseq2": "VST", "voom": "log2 CPM", "edger": "log2 CPM", "limma": "log2 intensity"}
"""What each engine's ``vst`` matrix holds (heatmap colour-bar labels)."""


def de_defaults() -> dict:
    """The ``de`` block as a dataset that sets nothing gets it: every key with a schema default."""
    props = load_schema("dataset")["properties"]["de"]["properties"]
    return {key: node["default"] for key, node in props.items() if "default" in node}


def de_engine(spec: dict) -> str:
    """The DE engine of a dataset: ``limma`` for proteomics, else ``de.engine`` (``deseq2``, ``voom``, ``edger``)."""
    if spec.get("assay") == "proteomics":
        return "limma"
    return (spec.get("de") or {}).get("engine", "deseq2")


def shrink_method(opts: dict) -> str | None:
    """``de.shrink`` as a method name: None, ``normal`` or ``apeglm`` (``true`` means ``apeglm``)."""
    value = opts.get("shrink", False)
    if value is True:
        return "apeglm"
    return value or None


def deqms_method(opts: dict) -> str | None:
    """``de.deqms`` as DEqMS's ``fit.method``: None (off), ``loess`` (``true`` too, DEqMS's default), ``nls``
    or ``spline``."""
    value = opts.get("deqms", False)
    return "loess" if value is True else value or None
