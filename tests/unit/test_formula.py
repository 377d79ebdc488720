"""lsecflow.formula: design formulas checked as text (no code evaluated) and the model columns they make."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lsecflow.errors import ConfigError
from lsecflow.formula import design_matrix, estimable, estimable_columns, expand_design, parse_design


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


@pytest.mark.parametrize("design, expanded", [
    ("~ genotype * treatment", "~ genotype + treatment + genotype:treatment"),
    ("~ batch + a*b*c", "~ batch + a + b + c + a:b + a:c + b:c + a:b:c"),
    ("~ a * b + a:b", "~ a + b + a:b"),
    ("~ log(a) * b", "~ log(a) * b"),  # left for parse_design to refuse
    ("~ batch + group", "~ batch + group"),
])
def test_crossing_shorthand_is_written_out(design, expanded):
    assert expand_design(design) == expanded


def test_a_kept_column_that_the_rows_do_not_estimate():
    """~ cell * group under base cell B with B's treated samples missing: R's pivot keeps group[T.treated] (it is
    then fitted from cell A alone) and drops the interaction; estimable says neither is estimable."""
    sheet = pd.DataFrame({"cell": ["A"] * 4 + ["B"] * 4, "group": ["ctl", "ctl", "trt", "trt"] * 2}, dtype="category")
    X = design_matrix(sheet, "~ cell + group + cell:group", {"cell": "B", "group": "ctl"})
    names = X.design_info.column_names
    rows = ~((sheet["cell"] == "B") & (sheet["group"] == "trt")).to_numpy()
    kept = [names[j] for j in estimable_columns(np.asarray(X)[rows])]
    assert kept == ["Intercept", "cell[T.A]", "group[T.trt]"]
    ok = dict(zip(names, estimable(np.asarray(X)[rows])))
    assert ok == {"Intercept": True, "cell[T.A]": True, "group[T.trt]": False, "cell[T.A]:group[T.trt]": False}
    assert estimable(np.asarray(X)).all()
