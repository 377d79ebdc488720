"""Design formulas, checked as text before any formula parser sees them."""
from __future__ import annotations

import re

from .errors import ConfigError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TERM = re.compile(rf"^{_IDENT}(:{_IDENT})*$")


def parse_design(formula: str, columns, source: str = "config", key: str = "design") -> list[str]:
    """Check a design formula and return the sample-sheet columns it uses.

    Only ``~ a + b + a:b`` forms made of sample-sheet column names are
    accepted (an intercept-only ``~ 1`` is allowed too). Nothing in the string
    is ever evaluated: anything else, such as a function call, is refused.

    Parameters
    ----------
    formula
        The design, e.g. ``"~ batch + condition"``.
    columns
        Column names of the sample sheet.
    source
        Where the formula came from, for the error message.
    key
        The config key holding it (``design``, ``de.reduced``).

    Returns
    -------
    list of str
        Columns in order of first use.
    """
    text = formula.strip()
    if not text.startswith("~"):
        raise ConfigError(f"{source}: key '{key}': {formula!r} must start with '~' (e.g. '~ condition')")
    body = text[1:].strip()
    if body in ("", "1"):
        return []
    used: list[str] = []
    for raw in body.split("+"):
        term = raw.strip()
        if term == "1":
            continue
        if not _TERM.match(term):
            raise ConfigError(
                f"{source}: key '{key}': term {term!r} of {formula!r} is not allowed; a design is "
                "'~ column + column + column:column' using sample-sheet column names only "
                "(no functions, operators or expressions)"
            )
        for name in term.split(":"):
            if name not in columns:
                raise ConfigError(
                    f"{source}: key '{key}': column {name!r} of {formula!r} is not in the sample "
                    f"sheet (columns: {', '.join(map(str, columns))})"
                )
            if name not in used:
                used.append(name)
    return used


def design_terms(formula: str) -> set[str]:
    """The terms of a checked design formula (``"~ a + b + a:b"`` -> ``{"a", "b", "a:b"}``; ``~ 1`` -> empty)."""
    return {t.strip() for t in formula.strip()[1:].split("+") if t.strip() not in ("", "1")}
