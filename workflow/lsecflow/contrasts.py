"""What a contrast compares, in one place: its samples, the model column that carries it, its contrast vector.

A contrast compares the ``target`` level of one design column (``variable``) with its ``reference``. In a design
with an interaction term of that column (``~ genotype + treatment + genotype:treatment``) the comparison depends
on the level of the column it interacts with, so the contrast must say which:

- ``within: {genotype: KO}``: treatment's target vs reference among the KO samples (a simple effect);
- ``interaction: {variable: genotype, target: KO, reference: WT}``: how much the treatment effect differs
  between KO and WT (the difference of the two simple effects; the interaction coefficient).

A contrast on a numeric column (``numeric: [age]``) has no target or reference: it is the column's slope, the
log2 fold change per unit (:func:`is_slope`).

Under the base levels of :func:`bases` each is one coefficient of the model (:func:`coefficient`); the count
engines that refit per parametrisation (limma, edgeR) take that coefficient, DESeq2 (one fit per design) the
equivalent numeric contrast (:func:`contrast_vector`), as R's ``results(contrast = list(...))``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ConfigError
from .formula import design_terms


def is_slope(contrast: dict) -> bool:
    """True for the slope of a numeric column (a contrast without target and reference)."""
    return "target" not in contrast


def bases(contrast: dict) -> dict[str, str]:
    """The base level of each design column under which the contrast is one coefficient: its variable's
    reference (none for a slope), the ``within`` levels, the ``interaction`` variable's reference."""
    out = {} if is_slope(contrast) else {contrast["variable"]: str(contrast["reference"])}
    out.update({k: str(v) for k, v in (contrast.get("within") or {}).items()})
    if contrast.get("interaction"):
        inter = contrast["interaction"]
        out[inter["variable"]] = str(inter["reference"])
    return out


def by_bases(contrasts: dict) -> list[tuple[dict[str, str], list[str]]]:
    """The contrasts (name -> contrast) grouped by :func:`bases`, in the order first seen: one model fit per
    group serves each of its contrasts as one coefficient (``[(base levels, [names])]``)."""
    groups: dict[tuple, list[str]] = {}
    for name, c in contrasts.items():
        groups.setdefault(tuple(sorted(bases(c).items())), []).append(name)
    return [(dict(key), names) for key, names in groups.items()]


def coefficient(names: list[str], contrast: dict, label: str = "") -> str:
    """The model column (patsy's name, e.g. ``treatment[T.TNF]`` or ``genotype[T.KO]:treatment[T.TNF]``)
    carrying the contrast in a design matrix built with :func:`bases`; ValueError (naming contrast ``label``)
    when ``names`` lacks it."""
    wanted = {contrast["variable"] if is_slope(contrast) else f"{contrast['variable']}[T.{contrast['target']}]"}
    if contrast.get("interaction"):
        inter = contrast["interaction"]
        wanted.add(f"{inter['variable']}[T.{inter['target']}]")
    for name in names:
        if set(name.split(":")) == wanted:
            return name
    raise ValueError(f"contrast {label!r}: no coefficient {':'.join(sorted(wanted))!r} in the design "
                     f"({', '.join(names)})")


def is_plain(contrast: dict) -> bool:
    """True for target vs reference of one column, without ``within`` or ``interaction``."""
    return not contrast.get("within") and not contrast.get("interaction") and not is_slope(contrast)


def cells(obs: pd.DataFrame, contrast: dict) -> dict[str, np.ndarray]:
    """The groups of samples the contrast compares (label -> mask over ``obs``' rows), target first: two for a
    plain or ``within`` contrast, four for an ``interaction`` (target and reference at its two levels); a slope
    has one group (or two for an interaction), its samples spread along the number."""
    var = obs[contrast["variable"]].astype(str).to_numpy()
    within = np.ones(len(obs), dtype=bool)
    where = ""
    for col, level in (contrast.get("within") or {}).items():
        within &= obs[col].astype(str).to_numpy() == str(level)
        where += f", {col} {level}"
    strata = [("", within)]
    if contrast.get("interaction"):
        inter = contrast["interaction"]
        other = obs[inter["variable"]].astype(str).to_numpy()
        strata = [(f", {inter['variable']} {inter[role]}", within & (other == str(inter[role])))
                  for role in ("target", "reference")]
    if is_slope(contrast):
        return {f"{contrast['variable']} (slope){label}{where}": mask for label, mask in strata}
    out = {}
    for role in ("target", "reference"):
        for label, mask in strata:
            out[f"{contrast['variable']} {contrast[role]}{label}{where}"] = mask & (var == str(contrast[role]))
    return out


def too_few(obs: pd.DataFrame, contrast: dict, method: str = "DESeq2") -> str | None:
    """Why a contrast cannot be tested on the samples of ``obs`` (a level, or for a ``within`` / ``interaction``
    contrast a group, with fewer than 2 samples; a slope with fewer than 3 samples or 2 values), or None. The DE
    job asks it of the fit's samples, the start-up check of the sheet's (bulk and proteomics)."""
    groups = cells(obs, contrast)
    roles = dict(zip(groups, ("target", "reference")))  # a plain contrast's two groups: its two levels
    for label, mask in groups.items():
        n = int(mask.sum())
        if is_slope(contrast):
            values = obs.loc[mask, contrast["variable"]].astype(float).nunique()
            if n < 3 or values < 2:
                return (f"{label!r} has {n} sample(s) and {values} distinct value(s) of {contrast['variable']!r}; "
                        f"{method} needs at least 3 samples and 2 values for a slope")
            continue
        if n >= 2:
            continue
        if is_plain(contrast):
            return (f"level {contrast[roles[label]]!r} of {contrast['variable']!r} has {n} sample(s); {method} needs "
                    "at least 2 per level")
        return f"group {label!r} has {n} sample(s); {method} needs at least 2 per group"
    return None


def columns(contrast: dict) -> list[str]:
    """Every sheet column the contrast names: its variable, the ``within`` and the ``interaction`` columns."""
    inter = [contrast["interaction"]["variable"]] if contrast.get("interaction") else []
    return [contrast["variable"], *(contrast.get("within") or {}), *inter]


def group_columns(contrast: dict) -> list[str]:
    """The sheet columns that tell the contrast's groups apart (figures label samples by their levels):
    :func:`columns`, less a slope's number."""
    return columns(contrast)[1:] if is_slope(contrast) else columns(contrast)


def group_masks(obs: pd.DataFrame, contrast: dict) -> tuple[np.ndarray, np.ndarray]:
    """The samples at the contrast's target and at its reference (within its strata): masks over ``obs``; a
    slope's samples are all on the target side (its reference: none)."""
    masks = list(cells(obs, contrast).values())
    if is_slope(contrast):
        return np.logical_or.reduce(masks), np.zeros(len(obs), dtype=bool)
    half = len(masks) // 2
    return np.logical_or.reduce(masks[:half]), np.logical_or.reduce(masks[half:])


def describe(contrast: dict, title: bool = False) -> str:
    """The contrast in words, for logs and the methods (``Group Disease vs Chow``, ``... within batch b2``,
    ``... in batch b2 minus in batch b1 (interaction)``, ``age slope (log2 fold change per unit)``), or with
    ``title`` shorter, for figure titles (``Disease vs Chow``, ``..., batch b2 minus b1``, ``age slope``)."""
    var = contrast["variable"]
    if is_slope(contrast):
        text = f"{var} slope" + ("" if title else " (log2 fold change per unit)")
    else:
        text = ("" if title else f"{var} ") + f"{contrast['target']} vs {contrast['reference']}"
    if contrast.get("within"):
        text += " within " + ", ".join(f"{k} {v}" for k, v in contrast["within"].items())
    if contrast.get("interaction"):
        i = contrast["interaction"]
        text += (f", {i['variable']} {i['target']} minus {i['reference']}" if title else
                 f" in {i['variable']} {i['target']} minus in {i['variable']} {i['reference']} (interaction)")
    return text


def short(contrast: dict) -> str:
    """:func:`describe` for a figure title."""
    return describe(contrast, title=True)


def contrast_vector(design_info, meta: pd.DataFrame, contrast: dict) -> np.ndarray:
    """The numeric contrast over the model columns of ``design_info`` (patsy's, any base levels) that gives the
    contrast's log fold change: the model row of a target sample minus that of a reference sample, with the
    ``within`` levels set (and for an ``interaction``, that difference at its target minus at its reference).
    Columns the contrast does not name are held at their first level (numbers at 0): they cancel, as
    :func:`lsecflow.config` refuses a contrast whose variable interacts with a column it does not fix."""
    import patsy

    row = {}
    for col in meta.columns:
        if isinstance(meta[col].dtype, pd.CategoricalDtype):
            row[col] = pd.Categorical([meta[col].cat.categories[0]], categories=meta[col].cat.categories)
        else:
            row[col] = [0.0]

    def model_row(levels: dict) -> np.ndarray:
        data = dict(row)
        for col, level in levels.items():
            data[col] = ([float(level)] if not isinstance(meta[col].dtype, pd.CategoricalDtype) else
                         pd.Categorical([level], categories=meta[col].cat.categories))
        return np.asarray(patsy.build_design_matrices([design_info], pd.DataFrame(data))[0])[0]

    within = {k: str(v) for k, v in (contrast.get("within") or {}).items()}
    var = contrast["variable"]
    target, ref = (1.0, 0.0) if is_slope(contrast) else (str(contrast["target"]), str(contrast["reference"]))

    def effect(extra: dict) -> np.ndarray:
        return model_row({**within, **extra, var: target}) - model_row({**within, **extra, var: ref})

    if not contrast.get("interaction"):
        return effect({})
    inter = contrast["interaction"]
    return (effect({inter["variable"]: str(inter["target"])})
            - effect({inter["variable"]: str(inter["reference"])}))


def check(name: str, contrast: dict, design: str, sheet: pd.DataFrame, numeric, where: str) -> None:
    """Parse-time checks of ``within`` and ``interaction`` (``where``: the config file and dataset, for the
    message): columns of the design, categorical, levels of the sheet, each with an interaction term that
    gives it a meaning; and a contrast whose variable interacts with a column must fix that column's level
    (``within``) or be that interaction, since otherwise its meaning would hang on which level is the base."""
    var = contrast["variable"]
    used = {col for t in design_terms(design) for col in t.split(":")}
    terms = [t.split(":") for t in design_terms(design) if ":" in t]
    partners = {col for t in terms if var in t for col in t if col != var}

    def key(suffix: str) -> str:
        return f"{where}: key 'contrasts.{name}.{suffix}'"

    def check_level(suffix: str, col: str, level: str) -> None:
        if col not in sheet.columns or col not in used:
            raise ConfigError(f"{key(suffix)}: column {col!r} is not in the design {design!r}")
        if col == var or col in numeric:
            raise ConfigError(f"{key(suffix)}: column {col!r} is " + ("the contrast's own variable" if col == var
                              else "numeric (a slope, not groups)"))
        levels = sorted(sheet[col].astype(str).unique())
        if str(level) not in levels:
            raise ConfigError(f"{key(suffix)}: level {level!r} is absent from column {col!r} of the sample sheet "
                              f"(levels: {', '.join(levels)})")
        if col not in partners:
            raise ConfigError(f"{key(suffix)}: the design {design!r} has no interaction of {var!r} with {col!r}, "
                              f"so the {var} effect is the same at every level of {col!r}: remove it")

    within = contrast.get("within") or {}
    for col, level in within.items():
        check_level(f"within.{col}", col, level)
    inter = contrast.get("interaction")
    if inter:
        if inter["variable"] in within:
            raise ConfigError(f"{key('interaction.variable')}: column {inter['variable']!r} is also fixed by "
                              "within")
        if inter["target"] == inter["reference"]:
            raise ConfigError(f"{key('interaction')}: target and reference are the same level {inter['target']!r}")
        for role in ("target", "reference"):
            check_level(f"interaction.{role}", inter["variable"], inter[role])
    loose = sorted(partners - set(within) - ({inter["variable"]} if inter else set()))
    if loose:
        col = loose[0]
        term = next(":".join(t) for t in terms if var in t and col in t)
        if col in numeric:
            raise ConfigError(f"{where}: contrast {name!r}: the design {design!r} lets the {var} effect change with "
                              f"the number {col!r} (term {term}), so a {var} contrast would be taken at {col} = 0; "
                              "test the term with de.test: lrt (de.reduced without it) or drop it")
        levels = ", ".join(sorted(sheet[col].astype(str).unique()))
        raise ConfigError(f"{where}: contrast {name!r}: the design {design!r} lets the {var} effect differ between "
                          f"levels of {col!r} (term {term}): say at which level it is taken "
                          f"(contrasts.{name}.within: {{{col}: <level>}}; levels: {levels}) or test how much it "
                          f"differs (contrasts.{name}.interaction: {{variable: {col}, target: <level>, reference: "
                          "<level>})")


def deseq2_contrast(dds, contrast: dict) -> list:
    """What DESeq2's ``results(dds, contrast = ...)`` takes for the contrast: ``[variable, target, reference]``
    for a plain one, else the numeric contrast over ``resultsNames(dds)`` (:func:`contrast_vector` on the
    fit's design; whole numbers, as treatment coding gives them: inmoose 0.9.1 indexes a list by their signs)."""
    if is_plain(contrast):
        return [contrast["variable"], contrast["target"], contrast["reference"]]
    vector = contrast_vector(dds.design.design_info, dds.obs, contrast)
    if not np.allclose(vector, np.round(vector)):
        raise ValueError(f"contrast vector {vector} is not whole numbers")
    return [int(v) for v in np.round(vector)]
