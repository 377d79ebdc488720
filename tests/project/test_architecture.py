"""The package's structure: layers that only point down (no import cycle), internal imports at the top of
each module, and no module over 400 lines."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from helpers import PACKAGE, REPO


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None




def internal_imports(path) -> list[tuple[str, bool]]:
    """(imported lsecflow module, imported inside a function?) for every relative import of a module."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        nested, up = False, parents.get(node)
        while up is not None:
            nested |= isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef))
            up = parents.get(up)
        names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
        out += [(name, nested) for name in names]
    return out


def import_graph() -> dict[str, set[str]]:
    return {p.stem: {m for m, _ in internal_imports(p)} - {p.stem} for p in PACKAGE.glob("*.py")}


MAX_LINES = 400


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_the_package_modules():
    graph = import_graph()
    assert {"de", "config", "files", "ingest", "paracrine"} <= set(graph)  # the walk sees the package
    assert "files" in graph["ingest"] and "config" not in graph["ingest"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_internal_imports_sit_at_module_top():
    nested = sorted(f"{p.name}: .{m}" for p in PACKAGE.glob("*.py") for m, inside in internal_imports(p) if inside)
    assert nested == []


def test_no_module_over_400_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_each_script_calls_the_entry_point_named_after_its_rule():
    """workflow/scripts/<rule>.py unpacks Snakemake's objects and calls lsecflow's run_<rule> (one per script)."""
    scripts = sorted((REPO / "workflow/scripts").glob("*.py"))
    rules = "".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    used = set(re.findall(r'"\.\./scripts/(\w+)\.py"', rules))
    assert used == {s.stem for s in scripts}  # every rule's script is here, and no script without a rule
    for script in scripts:
        calls = {node.args[1].id for node in ast.walk(ast.parse(script.read_text()))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run" and len(node.args) > 1}
        assert calls == {f"run_{script.stem}"}, f"{script.name} calls {calls}"


def test_unit_tests_mirror_the_package():
    """tests/unit/test_<module>[_<aspect>].py tests lsecflow.<module>; Snakemake runs sit in tests/workflow,
    repository checks in tests/project, nothing else lies loose in tests/, and no two test files share a name
    (pytest collects only one of them: CI run 27 failed on tests/unit/test_report.py beside the workflow one)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    strays = {p.name: p.stem[5:] for p in (REPO / "tests/unit").glob("test_*.py")
              if not any(p.stem[5:] == m or p.stem[5:].startswith(m + "_") for m in modules)}
    assert strays == {}, f"unit test files naming no module of the package: {strays}"
    loose = sorted(p.name for p in (REPO / "tests").glob("test_*.py"))
    assert loose == [], f"test files outside tests/unit, tests/workflow, tests/project: {loose}"
    names = [p.name for p in (REPO / "tests").rglob("test_*.py")]
    shared = sorted({n for n in names if names.count(n) > 1})  # pytest's rootdir imports cannot tell them apart
    assert shared == [], f"test files sharing a name across tests/ folders: {shared}"
    for folder in ("unit", "project"):
        runs = [p.name for p in (REPO / "tests" / folder).glob("test_*.py") if p.name != Path(__file__).name
                and re.search(r"run_snakemake\(|snakemake_cli\(|\"snakemake\"", p.read_text())]
        assert runs == [], f"tests/{folder} runs Snakemake (they belong in tests/workflow): {runs}"


def test_the_parse_time_check_loads_no_analysis_library():
    """Snakemake parses the workflow at every start and, on a cluster, once more inside every job: what
    common.smk imports (lsecflow.config and the modules it needs) must not load the analysis stack.
    anndata and scipy.stats were loaded there for type hints and one rank call: 0.6 s of a 2.3 s dry run."""
    heavy = ("anndata", "scipy.stats", "scanpy", "matplotlib", "sklearn", "h5py", "numba")
    smk = (REPO / "workflow/rules/common.smk").read_text()
    modules = sorted(set(re.findall(r"^from (lsecflow\.\w+) import", smk, flags=re.M)))
    assert "lsecflow.config" in modules, modules
    code = f"import sys; import {', '.join(modules)}; print([m for m in {heavy!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO / "workflow", capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"loaded when the workflow is parsed: {proc.stdout.strip()}"
