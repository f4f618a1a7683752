"""The package's import graph has no cycles.

The graph is grimp's: every ``import`` in a module counts, including those inside functions and
under ``TYPE_CHECKING``, and a package's ``__init__`` is a module of its own (so re-exports count).
A cycle is a strongly connected set of modules; each one found is reported with one concrete
import chain around it, so the failure says which imports to move.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grimp

PACKAGE = "assistant"
# TODO(#18): tui cycle is being removed on another branch
EXCUSED = ("assistant.tui",)
REPO = Path(__file__).resolve().parent.parent
# What loading the config must not pull in (it imports every feature's settings module, so
# those packages' ``__init__`` files run too): ``assistant --help`` stays fast.
HEAVY = ("numpy", "sqlite_utils", "torch", "llama_cpp", "textual", "sentence_transformers")


def _excused(cycle: list[str]) -> bool:
    return all(any(m == p or m.startswith(p + ".") for p in EXCUSED) for m in cycle)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected sets of two or more modules in ``graph`` (Tarjan, iterative), sorted."""
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
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.find_modules_directly_imported_by(step)))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return sorted(found)


def one_loop(graph: grimp.ImportGraph, cycle: list[str]) -> list[str]:
    """A concrete chain of imports around ``cycle``: ``[a, b, ..., a]``."""
    start = cycle[0]
    members = set(cycle)
    first = min(m for m in graph.find_modules_directly_imported_by(start) if m in members)
    back = graph.find_shortest_chain(importer=first, imported=start)
    return [start, *(back or (first, start))]


def _describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    return f"{len(cycle)} modules {cycle}\n    e.g. {' -> '.join(one_loop(graph, cycle))}"


def test_the_cycle_finder_sees_a_planted_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c", "p.d"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    graph.add_import(importer="p.d", imported="p.a")
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"]]
    assert one_loop(graph, ["p.a", "p.b", "p.c"]) == ["p.a", "p.b", "p.c", "p.a"]


def test_the_package_has_no_import_cycles() -> None:
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=False, cache_dir=None)
    cycles = [c for c in import_cycles(graph) if not _excused(c)]
    assert not cycles, f"{len(cycles)} import cycle(s) in {PACKAGE}:\n" + "\n".join(
        _describe(graph, c) for c in cycles)


def test_feature_settings_are_leaves() -> None:
    """Each feature owns its config table in ``assistant.FEATURE.settings``; the config composes
    them, so they import nothing of the package but the shared base."""
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=False, cache_dir=None)
    sections = sorted(m for m in graph.modules if m.count(".") == 2 and m.endswith(".settings"))
    assert len(sections) >= 5
    config_imports = graph.find_modules_directly_imported_by("assistant.config")
    for module in sections:
        assert graph.find_modules_directly_imported_by(module) <= {"assistant.settings_base"}, module
        assert module in config_imports, module


def test_loading_the_config_stays_light() -> None:
    code = f"import json, sys, assistant.config; print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=REPO)
    assert json.loads(out.stdout) == []
