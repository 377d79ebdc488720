"""Users' dataset configs bent key by key, through the parse-time checks (``load_config``) and every rule's
parameters: every exception that is not an :class:`~lsecflow.errors.LsecflowError` (a message naming the key) is a
crash; every bend accepted is listed, so a silent acceptance of a wrong value shows too.

The shipped DLPC dataset (bulk), UPS1 (proteomics) and UPS1's peptides (since 2026-12-04: seeds from then on
draw among three datasets), with every default filled in, and the main config's own
keys (annotation, compute, report, figures) are walked leaf by leaf; each
trial sets one to three keys (seeded per trial; a trial reproduces) to a value of the wrong type, out of range,
empty, or of the right type but naming nothing (a level, a column, a collection that does not exist), or drops a
whole block.

    .venv/bin/python bench/fuzz_config.py [--trials 400] [--start 0] [--traceback]
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
sys.path.insert(0, str(REPO / "bench"))
from _fuzz import print_crashes, run_trials, trial_arguments  # noqa: E402
from lsecflow.config import load_config  # noqa: E402
from lsecflow.rule_params import RULE_SPEC_KEYS  # noqa: E402

POOL = [None, True, False, 0, 1, -1, 2, 0.5, -0.5, 1e9, 1e-12, "", " ", "x", "Chow", "Group", "1e-5", "auto", "none",
        [], ["x"], [1, 2], {}, {"a": 1}, "~ Group", "~ 0 + Group", "~ Group + batch", "Disease/Agonist", "~"]


def leaves(spec, prefix=()):
    """Every key path of a nested mapping (blocks and leaves)."""
    for key, value in spec.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from leaves(value, prefix + (key,))


def set_path(spec: dict, path: tuple, value, drop: bool) -> None:
    node = spec
    for key in path[:-1]:
        node = node[key]
    if drop:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def base_specs() -> dict[str, dict]:
    """The shipped DLPC, UPS1 and UPS1 peptide dataset specs, paths absolute, every default filled in (what the
    checks see)."""
    out = {}
    for name in ("dlpc_liver", "ups1_peptides", "ups1_spikein"):
        cfg = {"results": "/tmp/results", "datasets": {name: f"config/datasets/{name}.yaml"}}
        spec = copy.deepcopy(load_config(cfg, roots=[REPO]).datasets[name].spec)
        spec["enrichment"].pop("files", None)  # derived at load time, not a key a user writes
        spec["figures"].pop("formats", None)  # the main config's only
        load_config({"results": "/tmp/results", "datasets": {name: copy.deepcopy(spec)}}, roots=[REPO])
        out[name] = spec
    return out


def trial(rng, specs: dict, bends: list[str]) -> None:
    name = rng.choice(sorted(specs))
    spec = copy.deepcopy(specs[name])
    top = yaml.safe_load((REPO / "config/config.yaml").read_text())  # the main config's own keys, bent too
    top = {k: v for k, v in top.items() if k not in ("datasets", "results")}
    if rng.random() < 0.25:
        name, spec, main = "config", top, True
    else:
        main = False
    paths = list(leaves(spec))
    for _ in range(int(rng.integers(1, 4))):
        path = paths[int(rng.integers(0, len(paths)))]
        drop = rng.random() < 0.1
        value = POOL[int(rng.integers(0, len(POOL)))]
        try:
            set_path(spec, path, value, drop)
        except (KeyError, TypeError, AttributeError):  # an earlier bend replaced a block above this key
            continue
        bends.append(f"{name}:{'.'.join(map(str, path))}{' dropped' if drop else '=' + repr(value)}")
    if main:
        name, cfg = "dlpc_liver", {**top, "results": "/tmp/results",
                                   "datasets": {"dlpc_liver": str(REPO / "config/datasets/dlpc_liver.yaml")}}
    else:
        cfg = {"results": "/tmp/results", "datasets": {name: spec}}
    config = load_config(cfg, roots=[REPO], source="fuzz.yaml")
    ds = config.datasets[name]
    for rule in RULE_SPEC_KEYS:
        ds.params(rule=rule)


def main() -> None:
    parser = trial_arguments(__doc__, 400)
    args = parser.parse_args()
    specs = base_specs()
    accepted, refused, crashes = run_trials(lambda t, bends: trial(np.random.default_rng(t), specs, bends),
                                            args.start, args.trials, args.traceback)
    print("accepted bends:")
    for t, bends in accepted:
        print(f"  {t:5d}  {'; '.join(bends)}")
    print_crashes(args.trials, accepted, refused, crashes)

if __name__ == "__main__":
    main()
