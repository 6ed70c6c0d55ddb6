"""The Python package's imports form no loop: read from the source (every import statement,
at module level, in functions and under TYPE_CHECKING alike)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "revati"

Graph = dict[str, set[str]]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the revati modules it imports (a `from pkg import name` of a submodule counts
    as importing the submodule)."""
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".")
                    anchor = anchor if is_pkg else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in files]
                targets = targets or [base]
            for t in targets:
                if t in files and t != mod:
                    graph[mod].add(t)
    return graph


def within(graph: Graph, package: str) -> Graph:
    """The import graph restricted to the modules under `package`."""
    return {m: deps for m, deps in graph.items() if m == package or m.startswith(package + ".")}


def test_graph_reads_imports() -> None:
    """The reader depends on the stream and files modules; the cache no longer on the reader."""
    g = import_graph()
    assert {"revati.trace.stream", "revati.trace.files", "revati.trace.schema"} <= g[
        "revati.trace.reader"
    ]
    assert "revati.trace.reader" not in g["revati.trace.cache"]


def test_no_import_loop_in_revati_trace(find_cycle: Callable[[Graph], list[str] | None]) -> None:
    """No module of revati/trace imports, directly or not, one that imports it back (the
    package __init__, which only re-exports, aside)."""
    g = import_graph()
    g = {m: deps - {"revati.trace"} for m, deps in g.items()}
    cycle = find_cycle(within(g, "revati.trace"))
    assert cycle is None, " -> ".join(cycle or [])


def test_trace_package_imports_nothing_above_it() -> None:
    """revati/trace reads runs; it never imports the exporters, report, diff, CLI or launcher."""
    above = ("revati.exporters", "revati.report", "revati.diff", "revati.cli", "revati.launch")
    g = import_graph()
    bad = {
        (m, d)
        for m, deps in g.items()
        if m.startswith("revati.trace")
        for d in deps
        if d.startswith(above)
    }
    assert not bad


def test_no_import_loop_in_revati(find_cycle: Callable[[Graph], list[str] | None]) -> None:
    """The whole package is a layering too (package __init__ files included)."""
    cycle = find_cycle(within(import_graph(), "revati"))
    assert cycle is None, " -> ".join(cycle or [])
