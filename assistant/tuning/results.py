"""Stored eval results (JSON Lines under ``<data_dir>/eval/<skill>.jsonl``) and their display.

Each run appends one line (per-candidate summaries, no per-item detail), so a later run can
show what changed for the same candidate (e.g. before and after ``assistant tune``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.tuning.runner import EvalRun


def results_path(settings: Settings, skill: str) -> Path:
    return settings.data_dir / "eval" / f"{skill}.jsonl"


def load_runs(settings: Settings, skill: str) -> list[dict[str, Any]]:
    """Every stored run of ``skill``, oldest first; unreadable lines are skipped."""
    path = results_path(settings, skill)
    runs = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                runs.append(json.loads(line))
            except ValueError:
                continue
    return runs


def previous_by_label(settings: Settings, skill: str) -> dict[str, dict[str, Any]]:
    """The most recent stored summary of each candidate label."""
    latest: dict[str, dict[str, Any]] = {}
    for run in load_runs(settings, skill):
        for report in run.get("reports", []):
            if not report.get("error"):
                latest[report["label"]] = report | {"run": run.get("started")}
    return latest


def append_run(settings: Settings, run: EvalRun) -> Path:
    """Store ``run`` (summaries only)."""
    path = results_path(settings, run.skill)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(run.as_dict(with_items=False), ensure_ascii=False) + "\n")
    return path


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(run: EvalRun, previous: dict[str, dict[str, Any]] | None = None) -> str:
    """A plain-text table of the run; ``previous`` adds the change in accuracy per candidate."""
    previous = previous or {}
    head = ["model", "accuracy", "vs last", "valid", "ttft ms", "decode tok/s", "ms/token", "peak MB", "load s"]
    rows = [head]
    for r in run.reports:
        if r.error:
            rows.append([r.label, "failed", "", "", "", "", "", "", r.error[:40]])
            continue
        before = previous.get(r.label)
        delta = f"{(r.accuracy - before['accuracy']) * 100:+.1f}" if before else "new"
        rows.append([
            r.label, f"{r.accuracy * 100:.1f}%", delta, f"{r.valid_rate * 100:.0f}%",
            _fmt(r.ttft_ms_p50, ".0f"), _fmt(r.decode_tok_s_p50, ".1f"), f"{r.ms_per_token:.2f}",
            f"{r.peak_rss_mb:.0f}", f"{r.load_s:.2f}",
        ])
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    best = run.winner()
    lines.append(f"\n{run.items} items; best: {best.label if best else 'none'}"
                 " (ms/token = generation time over prompt + answer tokens; lower is cheaper)")
    for r in run.reports:
        if r.field_accuracy:
            fields = ", ".join(f"{k} {v * 100:.0f}%" for k, v in r.field_accuracy.items())
            lines.append(f"{r.label} per field: {fields}")
    return "\n".join(lines)
