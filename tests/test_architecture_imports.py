"""The modules of whyload import one another without circles: data flows one way, and a package
that registers (whyload.checks) is imported by whoever needs every rule, never by the registry.

The graph is read from each module's top-level imports (ast, nothing imported); imports under
`if TYPE_CHECKING:` are types only and do not count. Importing `a.b.c` runs `a/__init__` and
`a/b/__init__` first, so those count as imported too."""

from __future__ import annotations

import ast
from pathlib import Path

import whyload

PACKAGE_ROOT = Path(whyload.__file__).parent


def module_files() -> dict[str, tuple[Path, bool]]:
    """Module name -> (source file, whether it is a package's __init__)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = (path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def imported_names(name: str, path: Path, is_package: bool) -> set[str]:
    """Every dotted name a module's top-level code imports (absolute, relative ones resolved)."""
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If):
                visit(node.orelse if _is_type_checking(node.test) else [*node.body, *node.orelse])
            elif isinstance(node, ast.Try):
                visit([*node.body, *node.orelse, *node.finalbody])
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join([*package, base] if base else package)
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return names


def import_graph() -> dict[str, set[str]]:
    """whyload module -> the whyload modules importing it runs."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        targets: set[str] = set()
        for imported in imported_names(name, path, is_package):
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                # a module's own parent packages are already running when it is imported
                if target in modules and target != name and not name.startswith(target + "."):
                    targets.add(target)
        graph[name] = targets
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                lowlink[node] = min(lowlink[node], lowlink[successor])
            elif successor in on_stack:
                lowlink[node] = min(lowlink[node], index[successor])
        if lowlink[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def test_the_registry_imports_the_checks_and_the_checks_do_not_import_it() -> None:
    graph = import_graph()
    assert "whyload.checks" in graph["whyload.registry"]
    assert "whyload.checks.registration" in graph["whyload.checks.architecture"]
    checks = [name for name in graph if name.startswith("whyload.checks")]
    assert checks and all("whyload.registry" not in graph[name] for name in checks)


def test_type_checking_imports_do_not_count() -> None:
    assert "whyload.snapshot" not in import_graph()["whyload.checks.registration"]


def test_no_import_cycles_among_whyload_modules() -> None:
    assert import_cycles(import_graph()) == []


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
