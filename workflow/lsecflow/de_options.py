"""Parse-time checks of a dataset's ``de:`` block (called by :func:`lsecflow.config.load_dataset`): DESeq2's
test, reduced design and shrinkage against the design, and which keys each assay reads (DESeq2's for counts,
limma's for proteomics), so that a key the dataset's engine would ignore is refused, not dropped silently."""
from __future__ import annotations

from .errors import ConfigError
from .formula import design_terms, parse_design
from .schema import load_schema

DESEQ2_ONLY_KEYS = ("test", "reduced", "shrink", "fit_type", "size_factors", "cooks_filter", "independent_filter",
                    "independent_filter_alpha", "min_count", "min_samples")
"""``de`` keys that only DESeq2 (bulk and pseudobulk counts) reads."""
LIMMA_ONLY_KEYS = ("trend", "robust", "lm_method")
"""``de`` keys that only limma (proteomics) reads."""


def keys_set(de: dict, keys) -> list[str]:
    """Those of ``keys`` that ``de`` gives a value other than their schema default, as ``de.<key>``."""
    defaults = load_schema("dataset")["properties"]["de"]["properties"]
    return [f"de.{k}" for k in keys if k in de and de[k] != defaults[k].get("default", object())]


def check_de_keys_for_assay(spec: dict, source: str) -> None:
    """Refuse ``de`` keys that the dataset's engine does not read: DESeq2's on a proteomics dataset, limma's
    on counts (each named, with what the engine does read)."""
    if spec["assay"] == "proteomics":
        wrong = keys_set(spec["de"], DESEQ2_ONLY_KEYS)
        if wrong:
            raise ConfigError(f"{source}: key(s) {', '.join(wrong)} are DESeq2's, for count assays; a proteomics "
                              "dataset is tested by limma (de.trend, de.robust, de.lm_method, de.lfc_threshold, "
                              "de.alpha): remove them")
    else:
        wrong = keys_set(spec["de"], LIMMA_ONLY_KEYS)
        if wrong:
            raise ConfigError(f"{source}: key(s) {', '.join(wrong)} are limma's, for assay proteomics only; counts "
                              "are tested by DESeq2 (de.test, de.shrink, de.fit_type, ...): remove them")


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
