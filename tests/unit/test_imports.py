"""The shape of the code: no import circles in app/ or landscapes/, and the library never
imports the dashboard.

Imports are read from the source with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` anywhere in a module counts, inside functions and ``if TYPE_CHECKING:``
blocks too (a circle hidden in a function is still a circle). ``from app import ids`` is an edge
to the module ``app.ids``; ``from app import create_app`` an edge to the package ``app``. The
parent packages a submodule import runs implicitly are not edges.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "landscapes")


def module_files() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The modules of ``modules`` that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        yield from (t for t in targets if t in modules)


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: set(imported(name, path, modules)) - {name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``edges`` (each once, as a path that returns to its start)."""
    found, done, stack, on_stack = [], set(), [], set()

    def visit(node: str) -> None:
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt in on_stack:
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in done:
                visit(nxt)
        stack.pop()
        on_stack.discard(node)
        done.add(node)

    for node in sorted(edges):
        if node not in done:
            visit(node)
    return found


def test_the_checker_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_the_imports():
    edges = graph()
    assert {"app.controls", "app.ids"} <= edges["app.urlstate"] and "app.urlstate" in edges["app.layout"]
    assert "app.callbacks.panels" in edges["app.callbacks.downloads"]
    assert "app" in edges["app.wsgi"]  # from app import create_app: the package itself


def test_no_module_takes_part_in_an_import_circle():
    assert cycles(graph()) == []


def test_the_library_never_imports_the_dashboard():
    edges = graph()
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "app")
                 for name, targets in edges.items() if name.split(".")[0] == "landscapes"}
    assert {name: t for name, t in offenders.items() if t} == {}
