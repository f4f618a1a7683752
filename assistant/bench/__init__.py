"""Public benchmarks for skills: adapters, standard metrics with intervals, and the runner.

``assistant eval SKILL --bench FILE.jsonl`` is the command; :func:`register` adds a benchmark
for a plugin's own skill (see :mod:`assistant.bench.base`).
"""

from assistant.bench.base import BenchItem, Benchmark, read_rows, sample
from assistant.bench.registry import find_benchmark, register, registered
from assistant.bench.runner import BenchRun, ModelReport, run_benchmark

__all__ = ["Benchmark", "BenchItem", "BenchRun", "ModelReport", "find_benchmark", "read_rows", "register",
           "registered", "run_benchmark", "sample"]
