"""Per-rule parameters: each rule receives only the dataset keys it reads.

:data:`RULE_SPEC_KEYS` lists them per rule; ``Dataset.params(rule=...)``
cuts the spec to that list (:func:`scoped_spec`), so a config edit reruns
only the jobs that read the edited key; in the job, :func:`guard_params`
wraps the cut in :class:`ScopedSpec`, which refuses an undeclared read.
"""
from __future__ import annotations

import copy

#: The dataset keys each rule's function reads: top-level sections, or
#: ``section.key`` for one key of a section. Everything else is withheld
#: from that rule's parameters (see :meth:`Dataset.params`).
RULE_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "ingest": ("assay", "species", "gene_ids", "counts", "samples", "single_cell", "qc.markers", "proteomics",
               "numeric"),
    "qc_bulk": ("assay", "species", "qc", "design", "contrasts", "de.engine", "de.min_count", "de.min_samples",
                "figures"),
    "qc_proteomics": ("assay", "species", "qc", "proteomics", "design", "contrasts", "de.trend", "de.deqms", "de.block",
                      "figures"),
    "qc_single_cell": ("assay", "species", "qc", "single_cell", "figures"),
    "pseudobulk": ("assay", "species", "single_cell", "pseudobulk"),
    "pseudobulk_figure": ("assay", "species", "samples", "contrasts", "pseudobulk", "figures"),
    "composition": ("assay", "species", "single_cell.cell_type_key", "single_cell.lsec_label", "design", "contrasts",
                    "composition", "qc.exclude", "de.alpha", "de.test", "de.reduced", "de.block",
                    "figures"),
    "de": ("assay", "species", "design", "contrasts", "de", "qc.exclude", "paracrine.enabled",
           "paracrine.robustness", "paracrine.robustness_refit", "paracrine.factors", "proteomics"),
    "dispersion_plot": ("assay", "species", "design", "de.engine", "figures"),
    "enrichment": ("assay", "species", "enrichment", "de.alpha", "de.lfc_threshold", "de.test"),
    "figures": ("assay", "species", "contrasts", "de", "enrichment", "figures"),
    "paracrine_receivers": ("assay", "species", "single_cell", "paracrine", "figures"),
    "paracrine": ("assay", "species", "design", "contrasts", "paracrine", "de.alpha", "de.lfc_threshold",
                  "qc.markers", "qc.sample_type", "figures"),
}


def _split_keys(keys) -> dict[str, list[str] | None]:
    """``section`` / ``section.key`` entries as ``{section: None (whole) or [key, ...]}``, in declared order."""
    out: dict[str, list[str] | None] = {}
    for key in keys:
        section, _, sub = key.partition(".")
        if not sub:
            out[section] = None
        elif out.get(section, []) is not None:
            out.setdefault(section, []).append(sub)
    return out


def scoped_spec(spec: dict, keys) -> dict:
    """The part of ``spec`` named by ``keys`` (``section`` or ``section.key``), as plain dicts."""
    out: dict = {}
    for section, subs in _split_keys(keys).items():
        if section not in spec:
            continue
        if subs is None:
            out[section] = copy.deepcopy(spec[section])
        elif part := {k: copy.deepcopy(spec[section][k]) for k in subs if k in spec[section]}:
            out[section] = part
    return out


class UndeclaredKeyError(RuntimeError):
    """A rule read a dataset key that :data:`RULE_SPEC_KEYS` does not give it (a bug in lsecflow)."""


class ScopedSpec(dict):
    """A rule's cut of a dataset spec that refuses keys the rule did not declare.

    Reading (``[]``, ``get``, ``in``) an undeclared key raises
    :class:`UndeclaredKeyError` rather than a ``KeyError`` or a default, so a
    missing declaration cannot pass silently. Not a ``KeyError``: a caller's
    ``except KeyError`` must not swallow it.
    """

    def __init__(self, data: dict, keys, rule: str, path: str = ""):
        split = _split_keys(keys)
        self._allowed = set(split)
        self._rule, self._path = rule, path
        super().__init__({k: (ScopedSpec(v, split[k], rule, f"{path}{k}.") if split.get(k) else v)
                          for k, v in data.items()})

    def _check(self, key) -> None:
        if key not in self._allowed:
            raise UndeclaredKeyError(f"rule {self._rule!r} reads dataset key '{self._path}{key}', which "
                                     f"lsecflow.rule_params.RULE_SPEC_KEYS[{self._rule!r}] does not declare")

    def __getitem__(self, key):
        self._check(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._check(key)
        return super().get(key, default)

    def __contains__(self, key) -> bool:
        self._check(key)
        return super().__contains__(key)


def guard_params(params):
    """``params`` with its spec wrapped in :class:`ScopedSpec` when it was cut for one rule; else as given."""
    if isinstance(params, dict) and "spec_keys" in params and not isinstance(params["spec"], ScopedSpec):
        params = dict(params, spec=ScopedSpec(params["spec"], params["spec_keys"], params["rule"]))
    return params
