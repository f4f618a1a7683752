"""Bench results: the table printed, the runs stored under the data dir, the chart, the last score.

Each run appends its summaries (no per-item detail) to ``<data dir>/eval/bench/SKILL.jsonl``
and writes the whole run, every reply included, to ``<data dir>/eval/bench/runs/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.bench.runner import BenchRun


def bench_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "eval" / "bench"


def store_run(settings: Any, run: BenchRun) -> tuple[Path, Path]:
    """Append the run's summary to the skill's history and write the full run; both paths."""
    folder = bench_dir(settings)
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    history = folder / f"{run.skill}.jsonl"
    with history.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(run.as_dict(with_items=False), ensure_ascii=False) + "\n")
    stamp = run.started.replace(":", "").replace("-", "")
    full = folder / "runs" / f"{run.skill}-{run.bench}-{run.mode}-{stamp}.json"
    full.write_text(json.dumps(run.as_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return history, full


def last_scores(settings: Any, skill: str) -> dict[str, dict[str, Any]]:
    """The latest stored headline score of ``skill`` per (benchmark, model label)."""
    path = bench_dir(settings) / f"{skill}.jsonl"
    latest: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return latest
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            run = json.loads(line)
        except ValueError:
            continue
        if run.get("mode") != "skill":
            continue
        for r in run.get("reports", []):
            if not r.get("error") and run.get("metric") in r.get("metrics", {}):
                latest[f"{run['bench']}|{r['label']}"] = {
                    "bench": run["bench"], "model": r["label"], "metric": run["metric"], "n": r["n"],
                    "value": r["metrics"][run["metric"]], "interval": r.get("intervals", {}).get(run["metric"]),
                    "started": run.get("started"), "base": r.get("model"), "adapter": r.get("adapter")}
    return latest


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def format_run(run: BenchRun) -> str:
    """A plain-text table: each candidate's metrics with 95 % intervals, then speed and memory."""
    keys = sorted({k for r in run.reports for k in r.metrics}, key=lambda k: (k != run.metric, k))
    head = ["model", *keys, "ttft ms", "tok/s", "ms/item", "peak MB"]
    rows = [head]
    for r in run.reports:
        if r.error:
            rows.append([r.label, "failed: " + r.error[:60]] + [""] * (len(head) - 2))
            continue
        cells = []
        for k in keys:
            lo_hi = r.intervals.get(k)
            cells.append(f"{_pct(r.metrics.get(k))} [{_pct(lo_hi[0])}-{_pct(lo_hi[1])}]" if lo_hi else _pct(r.metrics.get(k)))
        rows.append([r.label, *cells, f"{r.ttft_ms_p50 or 0:.0f}", f"{r.tokens_per_s_p50 or 0:.1f}",
                     f"{r.ms_per_item_p50 or 0:.0f}", f"{r.peak_rss_mb:.0f}"])
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    best = run.winner()
    lines.append(f"\n{run.bench} via {'the model alone (raw)' if run.mode == 'raw' else f'the {run.skill} skill'}, "
                 f"{run.items} items, seed {run.seed}; metrics in %, [95 % bootstrap interval]; "
                 f"best on {run.metric}: {best.label if best else 'none'}")
    for who, value in run.published.items():
        lines.append(f"published: {who} {run.metric} {value * 100:.1f}")
    errors = sum(r.errors for r in run.reports)
    if errors:
        lines.append(f"{errors} items ended in a skill error (scored as an empty reply)")
    return "\n".join(lines)


def chart_points(run: BenchRun) -> list[dict[str, Any]]:
    """Points for the quality-vs-speed chart: items per second against the headline metric."""
    out = []
    for r in run.reports:
        if r.error or not r.ms_per_item_p50:
            continue
        lo, hi = r.intervals.get(run.metric, (None, None))
        out.append({"label": f"{r.label} ({r.metrics.get(run.metric, 0) * 100:.0f}%, {r.peak_rss_mb:.0f} MB)",
                    "x": 1000 / r.ms_per_item_p50, "y": r.metrics.get(run.metric, 0.0), "low": lo, "high": hi})
    return out
