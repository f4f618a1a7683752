"""Deterministic-path latency of the calculator and datetime skills, in process (no model).

Runs every input of both skills' eval sets through ``respond`` a few times after one warm-up
pass (pint's registry and dateparser load on first use; that one-off cost is reported apart)
and prints JSON: medians and 95th percentiles in milliseconds.

    .venv/bin/python benchmarks/calculator_bench.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Ctx:
    """What the deterministic path reads from a SkillContext."""

    def __init__(self, item: dict) -> None:
        self.text = item["input"]
        self.settings = {"timezone": "UTC", **item.get("settings", {})}
        now = datetime.fromisoformat(item.get("now", "2025-03-12T10:00:00+00:00"))
        self.clock = lambda: now
        self.models = None


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "skills" / name / "skill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _once(module, item: dict) -> float:
    started = time.perf_counter()
    try:
        for _ in module.respond(_Ctx(item)):
            pass
    except Exception:  # noqa: BLE001 - a hand-off (or any refusal) still costs its reading time
        pass
    return (time.perf_counter() - started) * 1000


def bench(name: str, repeat: int) -> dict:
    t0 = time.perf_counter()
    module = _load(name)
    items = [json.loads(line) for line in (ROOT / "skills" / name / "eval.jsonl").read_text().splitlines() if line.strip()]
    first = _once(module, items[0])
    warm = [_once(module, item) for item in items]  # pint / dateparser load here
    cold_ms = (time.perf_counter() - t0) * 1000
    times = [_once(module, item) for _ in range(repeat) for item in items]
    per_item = [statistics.median(times[i::len(items)]) for i in range(len(items))]
    return {"items": len(items), "runs": len(times), "p50_ms": round(statistics.median(times), 3),
            "p95_ms": round(statistics.quantiles(times, n=20)[-1], 3), "slowest_item_median_ms": round(max(per_item), 3),
            "first_call_ms": round(first, 1), "load_and_warm_up_ms": round(cold_ms, 1), "warm_pass_max_ms": round(max(warm), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(json.dumps({name: bench(name, args.repeat) for name in ("calculator", "datetime")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
