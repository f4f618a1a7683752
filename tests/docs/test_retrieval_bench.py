"""benchmarks/docs_retrieval.py: the metrics, the hybrid's paired differences and their intervals."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("docs_retrieval", ROOT / "benchmarks" / "docs_retrieval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hybrid_gain_is_paired_and_its_interval_brackets_it():
    bench = _bench()
    # The hybrid finds each item at rank 1; FTS misses two of ten; vectors find all at rank 2.
    per_item = [{"fts": 1 if i < 8 else None, "vector": 2, "hybrid": 1} for i in range(10)]
    got = bench.summarise(per_item)
    assert got["fts"] == {"recall@1": 0.8, "recall@5": 0.8, "mrr@10": 0.8}
    assert got["vector"] == {"recall@1": 0.0, "recall@5": 1.0, "mrr@10": 0.5}
    assert got["hybrid_minus_fts"]["recall@5"] == 0.2 and got["hybrid_minus_vector"]["recall@1"] == 1.0
    ci = bench.intervals(per_item)
    lo, hi = ci["hybrid_minus_fts"]["recall@5"]
    assert 0.0 <= lo <= 0.2 <= hi <= 0.5
    assert ci["hybrid"]["recall@1"] == [1.0, 1.0]  # no spread where every item agrees
    assert ci["vector"]["mrr@10"] == [0.5, 0.5]
