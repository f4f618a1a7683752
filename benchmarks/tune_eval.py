"""Side-by-side cost of a skill's candidate models: medians over runs, ratios to a reference.

    .venv/bin/python benchmarks/tune_eval.py sentiment \
        --models gemma-3-270m+adapter,gemma-3-270m,qwen2.5-coder-0.5b --reference qwen2.5-coder-0.5b

Each run evaluates every candidate on the first ``--limit`` eval items (candidate order
rotates between runs so no model always goes first on a noisy shared machine). Prints JSON:
per candidate the accuracy and the medians of ms/token, time to first token, ms per item,
peak RSS and load time, plus each figure's ratio to the reference candidate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIGURES = ("ms_per_token", "ttft_ms_p50", "ms_per_item_p50", "peak_rss_mb", "load_s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("skill")
    parser.add_argument("--models", required=True)
    parser.add_argument("--reference", help="candidate the ratios divide by (default: the last)")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    from assistant.cli.eval_cmd import run_eval
    from assistant.config import load_settings
    from assistant.tuning.data import read_eval
    from assistant.tuning.runner import parse_candidates
    from assistant.tuning.task import load_task

    settings = load_settings()
    task = load_task(settings, args.skill)
    items = read_eval(task.eval_file)[: args.limit]
    candidates = parse_candidates(args.models, task, settings.default_model)
    seen: dict[str, list] = {c.label: [] for c in candidates}
    for run in range(args.runs):
        shift = run % len(candidates)
        order = candidates[shift:] + candidates[:shift]
        for report in run_eval(settings, task, order, items, quiet=True).reports:
            seen[report.label].append(report)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    def med(label: str, key: str) -> float | None:
        values = [getattr(r, key) for r in seen[label] if getattr(r, key) is not None and not r.error]
        return round(statistics.median(values), 3) if values else None

    reference = args.reference or candidates[-1].label
    out = {"skill": task.name, "items": len(items), "runs": args.runs, "reference": reference,
           "threads": settings.runtime.n_threads, "candidates": {}}
    for c in candidates:
        row = {"accuracy": med(c.label, "accuracy"), "valid_rate": med(c.label, "valid_rate")}
        for key in FIGURES:
            row[key] = med(c.label, key)
            ref = med(reference, key)
            row[f"{key}_ratio"] = round(row[key] / ref, 3) if row[key] and ref else None
        out["candidates"][c.label] = row
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
