"""The package's shape as ARCHITECTURE.md describes it: no import cycle anywhere, and every
module in a stage package (import-linter checks the layers themselves in .ci/run)."""

from __future__ import annotations

import grimp

STAGES = {"core", "state", "site", "feeds", "upstreams", "web"}
TOP = {"__init__", "__main__", "cli", "daemon", "push", "refresh"}


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import cycles of the graph: its strongly connected parts of more than one module
    (Tarjan's algorithm, iterative so that depth is no limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                part = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == module:
                        break
                if len(part) > 1:
                    found.append(sorted(part))
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(grimp.build_graph("syndicator")) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_every_module_is_in_a_stage_or_on_top() -> None:
    graph = grimp.build_graph("syndicator")
    children = {module.split(".")[1] for module in graph.modules if module.count(".") >= 1}
    assert children <= STAGES | TOP, children - STAGES - TOP
