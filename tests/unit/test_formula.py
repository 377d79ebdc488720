"""lsecflow.formula: design formulas checked as text (no code evaluated) and the model columns they make."""
from __future__ import annotations

import pytest
from lsecflow.errors import ConfigError
from lsecflow.formula import parse_design


@pytest.mark.parametrize("design, error", [
    ("~ Group", None),
    ("~Group", None),
    ("~ 1", None),
    ("Group", "must start with '~'"),
    ("~ log(Group)", "not allowed"),
    ("~ Group + exec('x')", "not allowed"),
    ("~ Group * batch", "not allowed"),
    ("~ batch", "'batch' of '~ batch' is not in the sample sheet"),
])
def test_design_formula_is_checked_as_text(design, error):
    if error is None:
        assert parse_design(design, ["sample", "Group"]) in (["Group"], [])
    else:
        with pytest.raises(ConfigError, match=error):
            parse_design(design, ["sample", "Group"])


def test_interaction_term_columns():
    assert parse_design("~ batch + Group + batch:Group", ["batch", "Group"]) == ["batch", "Group"]
