"""Latency of the calculator and datetime skills, in process.

Runs every input of both skills' eval sets through ``respond`` a few times after one warm-up
pass (pint's registry and dateparser load on first use; that one-off cost is reported apart)
and prints JSON: medians and 95th percentiles in milliseconds. No model runs there.

``--fallback`` also times the calculator's model fallback: phrasings the deterministic reader
cannot read (:data:`FALLBACK`, written here) go through the skill as the app runs it, on the
default model (loaded and warmed up first, not timed), and the whole ``respond`` is timed:
the model's reading under the expression grammar plus its evaluation.

    .venv/bin/python benchmarks/calculator_bench.py [--repeat 5] [--fallback] [--model NAME]
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


# Calculations the deterministic reader cannot read (checked by ``fallback``): the model reads them.
FALLBACK = [
    "what is seven score and ten",
    "a dozen eggs times three, how many eggs",
    "what do I get if I take 90 away from 250",
    "how much is a third of 96",
    "add up twelve, nineteen and thirty one",
    "if I have 3 boxes of 24 pencils how many pencils is that",
    "subtract 17 from 45",
    "what is 18 shared equally among 6",
    "take 12 and multiply it by itself",
    "how many is five dozen",
]


def fallback(model: str | None, repeat: int) -> dict:
    from assistant.backends.base import ChatMessage
    from assistant.backends.manager import ModelManager
    from assistant.config import load_settings
    from assistant.errors import HandOff
    from assistant.skills.context import DirectModelAccess
    from assistant.skills.registry import load_skills

    settings = load_settings()
    registry = load_skills(settings)
    skill = registry.get("calculator")
    manager = ModelManager(settings)
    name = model or skill.model_name(settings) or settings.default_model
    access = DirectModelAccess(manager, name)
    rows = []
    try:
        deterministic = _load("calculator")
        readable = []
        for text in FALLBACK:
            try:
                deterministic.core.answer(text)
                readable.append(text)
            except deterministic.CalcError:
                pass
        access.generate([ChatMessage("user", "hi")], max_tokens=1).text()  # load and warm up: not a turn's cost
        for text in FALLBACK:
            if text in readable:
                continue
            times, reply = [], ""
            for _ in range(repeat):
                ctx = registry.context(skill, text=text, models=access)
                started = time.perf_counter()
                try:
                    reply = "".join(p for p in registry.run(skill, ctx) if isinstance(p, str))
                except HandOff as exc:
                    reply = f"(handed to chat: {exc.message})"
                times.append((time.perf_counter() - started) * 1000)
            rows.append({"text": text, "median_ms": round(statistics.median(times), 1), "reply": reply})
    finally:
        manager.close()
    medians = [r["median_ms"] for r in rows]
    return {"model": name, "items": len(rows), "repeat": repeat,
            "p50_ms": round(statistics.median(medians), 1) if medians else None,
            "max_ms": max(medians) if medians else None, "read_deterministically": readable, "rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fallback", action="store_true", help="also time the model fallback (loads the model)")
    parser.add_argument("--model", help="the model for --fallback (default: the calculator's)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    out = {name: bench(name, args.repeat) for name in ("calculator", "datetime")}
    if args.fallback:
        out["calculator_model_fallback"] = fallback(args.model, max(1, min(args.repeat, 3)))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
