"""Property-based test of the parse-time checks (hypothesis): the shipped DLPC (bulk) and UPS1 (proteomics) dataset
specs, every default filled in, with one to three keys set to a value of the wrong type, out of range, empty, or
naming nothing (a level, a column, a folder), or dropped. Whatever the draw, ``load_config`` either accepts the
config (and every rule's parameters can be made from it) or stops with an :class:`~lsecflow.errors.LsecflowError`
naming the problem, never a bare Python or pandas exception. The same exploration at scale, with the main config's
keys too: ``bench/fuzz_config.py`` (it found the crashes these examples now pin: a path key given a folder --
an empty value or ``~`` -- read by pandas as a file)."""
from __future__ import annotations

import copy

import pytest
from helpers import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsecflow.config import load_config
from lsecflow.errors import LsecflowError
from lsecflow.rule_params import RULE_SPEC_KEYS

POOL = [None, True, False, 0, 1, -1, 2, 0.5, -0.5, 1e9, 1e-12, "", " ", "~", "x", "Chow", "Group", "1e-5", "auto",
        "none", "resources", [], ["x"], [1, 2], {}, {"a": 1}, "~ Group", "~ 0 + Group", "~ Group + batch",
        "Disease/Agonist"]


#: keys that name files, bent a third of the time with what a path can wrongly be (the folder crash was there)
PATH_KEYS = [("counts", "path"), ("samples", "sheet"), ("qc", "markers"), ("paracrine", "factors"),
             ("paracrine", "pairs"), ("paracrine", "sources")]
PATH_VALUES = ["", "~", ".", "resources", "resources/paracrine", "missing.tsv", "config/config.yaml"]


def _leaves(spec, prefix=()):
    for key, value in spec.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _leaves(value, prefix + (key,))


@pytest.fixture(scope="module")
def specs() -> dict[str, dict]:
    """The shipped DLPC and UPS1 specs as the checks see them (paths resolved, defaults filled), less what load
    time derives (enrichment.files) and what only the main config may set (figures.formats)."""
    out = {}
    for name in ("dlpc_liver", "ups1_spikein"):
        cfg = {"results": "/tmp/results", "datasets": {name: f"config/datasets/{name}.yaml"}}
        spec = copy.deepcopy(load_config(cfg, roots=[REPO]).datasets[name].spec)
        spec["enrichment"].pop("files", None)
        spec["figures"].pop("formats", None)
        out[name] = spec
    return out


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bent_dataset_is_accepted_or_refused_by_name(specs, data):
    name = data.draw(st.sampled_from(sorted(specs)))
    spec = copy.deepcopy(specs[name])
    paths = list(_leaves(spec))
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.integers(0, 2)) == 0:
            section, key = data.draw(st.sampled_from(PATH_KEYS))
            spec.setdefault(section, {})[key] = data.draw(st.sampled_from(PATH_VALUES))
            continue
        path = data.draw(st.sampled_from(paths))
        node = spec
        try:
            for key in path[:-1]:
                node = node[key]
            if data.draw(st.integers(0, 9)) == 0:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(POOL)))
        except (KeyError, TypeError, AttributeError):  # an earlier bend replaced a block above this key
            pass
    try:
        ds = load_config({"results": "/tmp/results", "datasets": {name: spec}}, roots=[REPO],
                         source="bent.yaml").datasets[name]
    except LsecflowError:
        return
    for rule in RULE_SPEC_KEYS:
        ds.params(rule=rule)
