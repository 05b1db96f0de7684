"""The import architecture of the product (README "Layout"): no import cycles between its modules, and the
import-linter contracts in pyproject.toml (core does not import theme apps, theme apps do not import each other's
views, SSO's connection actions do not import rollout, SSO's leaf modules stay leaves).

Both read the source only (grimp parses every import statement, function-level ones included), so they need no
database.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("orgsecurity", "audit", "sso", "keys", "allowlist", "sessions_policy", "audit_stream")


def import_cycles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[list[str]]:
    """Every group of modules that import each other in a circle (strongly connected components of more than one
    module, Tarjan's algorithm), each as sorted module names. A package importing its own submodules (``__init__``
    re-exports) is not counted, as in /work/shared/hooks/cycles.py."""
    modules = sorted(modules)
    known = set(modules)
    edges = {
        module: sorted(
            target
            for target in graph.find_modules_directly_imported_by(module)
            if target in known and not target.startswith(module + ".")
        )
        for module in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative Tarjan: (module, position in its edge list) frames instead of recursion.
        frames = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while frames:
            module, position = frames[-1]
            targets = edges[module]
            if position < len(targets):
                frames[-1] = (module, position + 1)
                target = targets[position]
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    frames.append((target, 0))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            frames.pop()
            if frames:
                parent = frames[-1][0]
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
                    circles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return circles


def describe(graph: grimp.ImportGraph, circle: list[str]) -> str:
    """One circle as the imports that close it: a -> b (line) ... -> a."""
    members = set(circle)
    lines = []
    for module in circle:
        for target in sorted(graph.find_modules_directly_imported_by(module) & members):
            if target.startswith(module + "."):
                continue
            details = graph.get_import_details(importer=module, imported=target)
            where = ", ".join(f"line {detail['line_number']}" for detail in details)
            lines.append(f"  {module} -> {target} ({where})")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def product_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PRODUCT, cache_dir=None)


def test_no_import_cycles_between_product_modules(product_graph: grimp.ImportGraph) -> None:
    modules = {module for module in product_graph.modules if module.split(".")[0] in PRODUCT}
    modules = {module for module in modules if ".migrations" not in module}
    circles = import_cycles(product_graph, modules)
    report = "\n".join(f"circle {' '.join(circle)}:\n{describe(product_graph, circle)}" for circle in circles)
    assert not circles, f"Import cycles between product modules:\n{report}"


def test_import_cycles_are_found() -> None:
    """The check itself: a planted circle of three modules is reported, and a package importing its child is not."""
    graph = grimp.ImportGraph()
    for module in ("a", "a.b", "a.c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="a.b")
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="d")
    assert import_cycles(graph, graph.modules) == []
    graph.add_import(importer="d", imported="a.b")
    assert import_cycles(graph, graph.modules) == [["a.b", "a.c", "d"]]


def test_import_linter_contracts_are_kept(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(ROOT)
    exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out


def test_test_modules_import_shared_helpers_from_tests_helpers_not_from_conftest() -> None:
    """Fixtures live in conftest modules; what test modules share by import lives in tests/helpers/ (CONTRIBUTING),
    so that moving a fixture never breaks an import elsewhere."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != "conftest.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.lstrip().startswith("from tests.") and ".conftest import" in line
    ]
    assert not offenders, "\n".join(offenders)
