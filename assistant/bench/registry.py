"""The benchmarks known by name: the built-in adapters, then whatever plugins register.

``find_benchmark`` picks the one for a data file and a skill (``assistant eval SKILL --bench
FILE``); see :mod:`assistant.bench.base` for what a benchmark is.
"""

from __future__ import annotations

from pathlib import Path

from assistant.bench.base import Benchmark
from assistant.bench.builtin import builtin_benchmarks
from assistant.errors import SkillError

# The built-in adapters come first, so a plugin's benchmark of the same name replaces one.
_REGISTRY: dict[str, Benchmark] = {bench.name: bench for bench in builtin_benchmarks()}


def register(bench: Benchmark) -> Benchmark:
    """Make ``bench`` available by name (a later registration of the same name replaces it)."""
    _REGISTRY[bench.name] = bench
    return bench


def registered() -> dict[str, Benchmark]:
    """Every known benchmark by name (the built-in ones included)."""
    return dict(_REGISTRY)


def find_benchmark(path: Path, skill: str, name: str | None = None) -> Benchmark:
    """The benchmark for ``path``: by ``name``, else the one of ``skill`` whose file stem matches.

    Raises:
        SkillError: none fits (the message lists the ones that would).
    """
    known = registered()
    if name:
        if name not in known:
            raise SkillError(f"unknown benchmark '{name}'", f"known: {', '.join(sorted(known))}")
        return known[name]
    stem = path.name.lower()
    for bench in known.values():
        if bench.skill == skill and any(stem.startswith(f) for f in bench.files):
            return bench
    mine = sorted(b.name for b in known.values() if b.skill == skill)
    raise SkillError(f"no benchmark of skill '{skill}' reads {path.name}",
                     f"name one with --adapter ({', '.join(mine) or 'none registered for this skill'})")
