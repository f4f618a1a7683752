"""The package's import graph has no cycles.

The graph is grimp's: every ``import`` in a module counts, including those inside functions and
under ``TYPE_CHECKING``, and a package's ``__init__`` is a module of its own (so re-exports count).
A cycle is a strongly connected set of modules (networkx finds them); each one found is reported with one concrete
import chain around it, so the failure says which imports to move.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grimp
import networkx

PACKAGE = "assistant"
REPO = Path(__file__).resolve().parent.parent
# What loading the config must not pull in (it imports every feature's settings module, so
# those packages' ``__init__`` files run too): ``assistant --help`` stays fast.
HEAVY = ("numpy", "sqlite_utils", "torch", "llama_cpp", "textual", "sentence_transformers")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected sets of two or more modules in ``graph``, sorted."""
    digraph = networkx.DiGraph()
    for module in graph.modules:
        digraph.add_edges_from((module, imported) for imported in graph.find_modules_directly_imported_by(module))
    return sorted(sorted(c) for c in networkx.strongly_connected_components(digraph) if len(c) > 1)


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
    cycles = import_cycles(graph)
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
