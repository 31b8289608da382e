"""The shape of the code (issue 21, docs/architecture-checks.md): modules of one concept, short
functions, no import cycle, services that never import tasks nor the web layer.

Fast and without a database: it reads the source (``ast``) and the import graph (grimp, which
import-linter builds on; function-local imports count). Each allow-list below is exact: an entry
that no longer applies fails too, so that a list only shrinks and says what is left to do.
"""

from __future__ import annotations

import ast
import importlib
import itertools
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("local_stores", "templates_lib", "central", "approvals", "reporting")
GRAPH_PACKAGES = (*APPS, "config")
SIZE_CHECKED = (*APPS, "config", "bench", "fixtures")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

_BENCH = "a benchmark script, one scenario end to end (set-up, runs, report): not yet cut (issue 21 follow-up)"

#: Modules longer than MAX_MODULE_LINES, by path from the repository's root, and why.
ALLOWED_LONG_MODULES: dict[str, str] = {
    "bench/arbitration_benchmark.py": _BENCH,
    "bench/audience_benchmark.py": _BENCH,
    "bench/send_benchmark.py": _BENCH,
    "bench/import_benchmark.py": _BENCH,
}

#: Functions and methods longer than MAX_FUNCTION_LINES (decorators excluded), as
#: "dotted.module:Qualified.name", and why.
ALLOWED_LONG_FUNCTIONS: dict[str, str] = {
    "templates_lib.editor_labels:labels": "one literal table of the visual editor's translated labels, no logic",
}

#: Import cycles (strongly connected components of the module graph, as sorted module lists), and why.
ALLOWED_CYCLES: list[tuple[list[str], str]] = []


def _python_files(packages):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            yield relative


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_module_is_longer_than_600_lines_unless_listed():
    lengths = {str(path): len((ROOT / path).read_text().splitlines()) for path in _python_files(SIZE_CHECKED)}
    too_long = {path: n for path, n in lengths.items() if n > MAX_MODULE_LINES and path not in ALLOWED_LONG_MODULES}
    stale = {path: lengths.get(path, "missing") for path in ALLOWED_LONG_MODULES
             if lengths.get(path, 0) <= MAX_MODULE_LINES}
    assert not too_long, (
        f"modules over {MAX_MODULE_LINES} lines (cut them by concept): "
        + "; ".join(f"{path}: {n} lines" for path, n in sorted(too_long.items())))
    assert not stale, (
        "ALLOWED_LONG_MODULES lists modules no longer over the limit (or gone): remove them: "
        + "; ".join(f"{path}: {n}" for path, n in sorted(stale.items())))


def _function_lengths(relative: Path) -> dict[str, tuple[int, int]]:
    """{qualified name: (first line, lines)} of every function and method, decorators excluded."""
    found: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    found[name] = (child.lineno, child.end_lineno - child.lineno + 1)
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse((ROOT / relative).read_text(), filename=str(relative)), "")
    return found


def test_no_function_is_longer_than_80_lines_unless_listed():
    lengths = {}
    for relative in _python_files(APPS):
        for name, (line, n) in _function_lengths(relative).items():
            lengths[f"{_module_name(relative)}:{name}"] = (relative, line, n)
    too_long = {key: found for key, found in lengths.items()
                if found[2] > MAX_FUNCTION_LINES and key not in ALLOWED_LONG_FUNCTIONS}
    stale = [key for key in ALLOWED_LONG_FUNCTIONS if key not in lengths or lengths[key][2] <= MAX_FUNCTION_LINES]
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them): "
        + "; ".join(f"{key} ({path}:{line}, {n} lines)" for key, (path, line, n) in sorted(too_long.items())))
    assert not stale, f"ALLOWED_LONG_FUNCTIONS lists functions now short enough (or gone): remove them: {sorted(stale)}"


@pytest.fixture(scope="module")
def graph():
    for package in GRAPH_PACKAGES:  # the graph must be this checkout's code, not an installed copy
        location = Path(importlib.import_module(package).__file__).resolve()
        assert location.is_relative_to(ROOT), f"{package} is imported from {location}, not from {ROOT}"
    return grimp.build_graph(*GRAPH_PACKAGES, cache_dir=None)


def _strongly_connected(graph) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        while work:
            module, imported = work[-1]
            for other in imported:
                if other not in index:
                    index[other] = low[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, iter(sorted(graph.find_modules_directly_imported_by(other)))))
                    break
                if other in on_stack:
                    low[module] = min(low[module], index[other])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def _describe_cycle(graph, component: list[str]) -> str:
    """One cycle through the component, each import with its line."""
    first = component[0]
    back = min((graph.find_shortest_chain(importer=other, imported=first) or () for other in
                graph.find_modules_directly_imported_by(first) if other in component),
               key=len, default=())
    chain = [first, *back] if back else component
    steps = []
    for importer, imported in itertools.pairwise(chain):
        lines = sorted(d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported))
        steps.append(f"{importer} -> {imported} (line {', '.join(map(str, lines))})")
    return " ; ".join(steps)


def test_no_import_cycle_between_modules_unless_listed(graph):
    found = _strongly_connected(graph)
    allowed = [sorted(modules) for modules, _reason in ALLOWED_CYCLES]
    new = [component for component in found if component not in allowed]
    gone = [component for component in allowed if component not in found]
    assert not new, "import cycles (break them: move what both need below them):\n" + "\n".join(
        f"{component}: {_describe_cycle(graph, component)}" for component in new)
    assert not gone, f"ALLOWED_CYCLES lists cycles that are gone: remove them: {gone}"


def _is_tasks(module: str) -> bool:
    return "tasks" in module.split(".")


def test_only_tasks_import_tasks(graph):
    """Services queue a task by its name (central/task_queue.py); only tasks modules (and the Celery
    app) import a tasks module."""
    found = []
    for importer in sorted(graph.modules):
        if _is_tasks(importer) or importer == "config.celery":
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if _is_tasks(imported):
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                found.append(f"{importer} -> {imported} (line {', '.join(map(str, sorted(lines)))})")
    assert not found, "modules importing a tasks module (queue by name through central.task_queue instead):\n" + "\n".join(found)


_WEB = ("views", "api", "forms")


def _is_layer(module: str, names: tuple[str, ...]) -> bool:
    return any(part in names or part.endswith(tuple(f"_{name}" for name in names)) for part in module.split(".")[1:])


def test_services_and_selectors_import_no_page_api_or_form(graph):
    found = []
    for importer in sorted(graph.modules):
        if not _is_layer(importer, ("services", "selectors")):
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if _is_layer(imported, _WEB):
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                found.append(f"{importer} -> {imported} (line {', '.join(map(str, sorted(lines)))})")
    assert not found, "services or selectors importing a page, API or form module:\n" + "\n".join(found)
