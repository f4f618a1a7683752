"""A bounded soak of `assistant serve` (real pipeline, fake models) through benchmarks/soak.py.

RELIABILITY: nothing lost under load. 150 requests, 4 at a time, every tenth stream dropped by
the client; the server runs in its own process, so its memory is measured alone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
# Measured: 1.8 MB growth over 1,000 requests after warm-up (benchmarks/soak.py --requests 1000).
# 20 MB over 150 requests would be a leak of over 130 kB per request.
GROWTH_BOUND_MB = 20.0


@pytest.fixture(scope="module")
def soak():
    spec = importlib.util.spec_from_file_location("soak_bench", SOAK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.soak


@pytest.mark.timeout(180)
def test_serve_soak_loses_nothing_and_does_not_grow(soak):
    result = soak(150, 4, 120.0, False)
    store = result["store"]
    assert result["requests"] == 150 + 20  # every request was sent (20 warm-up)
    assert result["errors"] == 0
    assert store["integrity_check"] == "ok"
    assert (store["lost"], store["duplicated"], store["without_reply"]) == (0, 0, 0)
    assert store["messages"] == 2 * result["requests"]
    assert set(store["reply_statuses"]) <= {"complete", "cancelled"}
    assert result["rss_samples"] >= 2
    assert result["rss_growth_mb"] < GROWTH_BOUND_MB
