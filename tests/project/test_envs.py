"""The conda environments of envs/: every rule names one, every module a rule
imports (through its script and the lsecflow modules it reaches) is provided
by that env, and every pin agrees with pyproject.toml and constraints.txt.

No conda channel is reachable here, so the envs are checked as files, not
built (README, "Running on a cluster")."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers import PACKAGE, REPO
from packaging.requirements import Requirement

RULES = REPO / "workflow/rules"


# conda: directives that name a variable of common.smk, and every env it can be
ENV_VARIABLES = {"SC_ENV": ["../../envs/core.yaml", "../../envs/gpu.yaml"]}


def rule_envs_and_scripts() -> dict[str, tuple[str | None, str | None]]:
    """rule -> (conda env file, script) parsed from workflow/rules/*.smk."""
    out = {}
    for smk in sorted(RULES.glob("*.smk")):
        # `rule name:`, or a rule made in a loop, one per dataset: `rule:` + `name: dataset_rule_name("step", ...)`
        blocks = re.split(r"^\s*rule( \w+)?:\n", smk.read_text(), flags=re.M)
        for named, body in zip(blocks[1::2], blocks[2::2]):
            name = named.strip() if named else re.search(r'dataset_rule_name\("(\w+)"', body).group(1)
            env = re.search(r'^\s+conda:\n\s+"?([^"\n]+)"?', body, flags=re.M)
            script = re.search(r'^\s+script:\n(\s+[^\n]+)', body, flags=re.M)
            envs = ENV_VARIABLES.get(env.group(1), [env.group(1)]) if env else []
            envs = [(RULES / e).resolve().relative_to(REPO).as_posix() for e in envs]
            path = re.fullmatch(r'\s+"([^"]+\.py)"', script.group(1)).group(1) if script else None
            out[name] = (envs, path and (RULES / path).resolve())
    return out


def test_every_script_is_a_string_literal():
    """Snakemake evaluates a ``script:`` expression when the job runs: in a rule made in a loop an expression
    such as ``{...}[de_engine(DATASETS[_name].spec)]`` sees the loop's last value, so every dataset ran the last
    dataset's DE engine. Each ``script:`` is a plain string (a rule that must choose, chooses in Python)."""
    found = [(smk.name, m.group(1).strip()) for smk in sorted(RULES.glob("*.smk"))
             for m in re.finditer(r'^\s+script:\n(\s+[^\n]+(?:\n\s{16,}[^\n]+)*)', smk.read_text(), flags=re.M)]
    assert len(found) >= 10
    assert [f for f in found if not re.fullmatch(r'"[^"]+\.py"', f[1])] == []




# import name -> package name in conda-forge / pyproject (where they differ)
CONDA_NAME = {"yaml": "pyyaml", "sklearn": "scikit-learn", "skimage": "scikit-image", "igraph": "python-igraph",
              "umap": "umap-learn", "matplotlib": "matplotlib-base", "rapids_singlecell": "rapids-singlecell",
              "cupy": "cupy", "skmisc": "scikit-misc", "adjustText": "adjusttext"}


def _optional(node: ast.AST, parents: dict) -> bool:
    """An import inside ``try: ... except ImportError`` (an optional backend)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            return True
    return False


def _in_function(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
    return False


def third_party_imports(path: Path, depth: int = 0, seen: set | None = None) -> set[str]:
    """Third-party top-level modules a rule's script needs.

    The script and the lsecflow modules it imports (the entry points) count
    every import, lazy ones inside functions included; modules reached from
    there count their module-level imports (their lazy imports belong to
    other code paths). Imports guarded by ``except ImportError`` are optional.
    """
    seen = set() if seen is None else seen
    if (path, depth > 1) in seen:
        return set()
    seen.add((path, depth > 1))
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    internal: list[str] = []
    for node in ast.walk(tree):
        if _optional(node, parents) or (depth > 1 and _in_function(node, parents)):
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y
                names = [f"lsecflow.{node.module}"] if node.module else [f"lsecflow.{a.name}" for a in node.names]
            else:
                names = [node.module] if node.module != "lsecflow" else [f"lsecflow.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top == "lsecflow":
                internal.append(name.split(".")[1] if "." in name else "__init__")
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    for mod in internal:
        if (PACKAGE / f"{mod}.py").exists():
            found |= third_party_imports(PACKAGE / f"{mod}.py", depth + 1, seen)
    return found


def env_packages(env_file: str) -> dict[str, str]:
    """name -> pinned version of a conda env file (conda and pip sections)."""
    deps = yaml.safe_load((REPO / env_file).read_text())["dependencies"]
    pins = [d for d in deps if isinstance(d, str)] + [p for d in deps if isinstance(d, dict) for p in d["pip"]]
    out = {}
    for pin in pins:
        name, _, version = pin.replace("==", "=").partition("=")
        out[re.sub(r"\[.*\]", "", name).lower()] = version
    return out


PYPROJECT_NAME = {"matplotlib-base": "matplotlib", "python-igraph": "igraph"}


def constraints() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            out[name.strip().lower()] = version.strip()
    return out


def test_every_rule_names_an_env_and_a_script():
    rules = rule_envs_and_scripts()
    assert len(rules) == 15
    assert {"de", "enrichment", "figures", "dispersion_plot", "qc_proteomics", "pseudobulk_figure"} <= set(rules)
    missing = [r for r, (envs, script) in rules.items() if not envs]
    assert missing == [], f"rules without conda: {missing}"
    for rule, (envs, script) in rules.items():
        for env in envs:
            assert (REPO / env).exists(), f"{rule}: {env} does not exist"
        assert script is not None and script.exists(), f"{rule}: no script"
    assert "SC_ENV" in (RULES / "qc.smk").read_text()  # the GPU-optional rules use the variable


@pytest.mark.parametrize("rule", sorted(rule_envs_and_scripts()))
def test_env_provides_every_module_the_rule_imports(rule):
    envs, script = rule_envs_and_scripts()[rule]
    needed = third_party_imports(script)
    assert needed, f"{rule}: no imports found (parser broken?)"
    for env in envs:
        provided = env_packages(env)
        missing = sorted(m for m in needed if CONDA_NAME.get(m, m).lower() not in provided)
        assert missing == [], f"rule {rule} imports {missing}, which {env} does not provide"


def test_gpu_env_provides_the_gpu_backend():
    """lsecflow.gpu imports rapids-singlecell and cupy lazily (only on a GPU), so name them here."""
    assert {"rapids-singlecell", "cupy-cuda12x"} <= set(env_packages("envs/gpu.yaml"))
    assert {"rapids_singlecell", "cupy"} <= {n.names[0].name.split(".")[0] for n in ast.walk(
        ast.parse((PACKAGE / "gpu.py").read_text())) if isinstance(n, ast.Import)}


def test_the_import_scan_sees_through_lsecflow_modules():
    """Guard for the test above: the paracrine rule reaches liana only through lsecflow.paracrine."""
    script = REPO / "workflow/scripts/paracrine_receivers.py"
    assert "lsecflow" not in third_party_imports(script)
    assert {"liana", "anndata", "pandas", "matplotlib"} <= third_party_imports(script)


@pytest.mark.parametrize("env_file", sorted(p.relative_to(REPO).as_posix() for p in (REPO / "envs").glob("*.yaml")))
def test_env_pins_agree_with_pyproject_and_constraints(env_file):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    spec = {Requirement(r).name.lower(): Requirement(r).specifier for r in reqs}
    pinned = constraints()
    for name, version in env_packages(env_file).items():
        if name in ("python", "pip"):
            continue
        assert version, f"{env_file}: {name} is not pinned"
        pyname = PYPROJECT_NAME.get(name, name)
        if pyname in pinned:
            assert version == pinned[pyname], f"{env_file}: {name}={version}, constraints.txt has {pinned[pyname]}"
        if pyname in spec:
            assert spec[pyname].contains(version), f"{env_file}: {name}={version} outside pyproject's {spec[pyname]}"
    python = env_packages(env_file).get("python")
    assert python and Requirement(f"python{project['requires-python']}").specifier.contains(python + ".0")
