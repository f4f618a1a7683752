"""``assistant eval SKILL``: score candidate models on a skill's eval set; chart and store the results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``assistant eval``."""
    p = sub.add_parser(
        "eval",
        help="compare models on a skill's eval set (accuracy, speed, memory)",
        description=(
            "Run a skill's eval set on each candidate model with the skill's prompt and output schema. "
            "Candidates: catalog names, NAME+adapter (the skill's adapter) or NAME+/path/adapter.gguf. "
            "Results are appended to <data dir>/eval/SKILL.jsonl; the table shows the change since the last run."
        ),
    )
    p.add_argument("skill", help="skill name (a folder with skill.toml and eval.jsonl)")
    p.add_argument("--models", metavar="A,B,...", help="candidates (default: the skill's model, with and without its adapter)")
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N eval items")
    p.add_argument("--json", action="store_true", help="print the full results (every answer) as JSON")
    p.add_argument("--chart", metavar="FILE", help="where to write the SVG chart (default: <data dir>/eval/SKILL.svg)")
    p.add_argument("--write", action="store_true", help="record the winner as the skill's model in your config ([skills.overrides.SKILL])")
    p.add_argument("--no-store", action="store_true", help="do not append this run to the stored results")
    p.set_defaults(func=run_eval_cmd)


def run_eval(settings: Any, task: Any, candidates: list[Any], items: list[dict[str, Any]], *, quiet: bool = False) -> Any:
    """Evaluate ``candidates`` on ``items`` with models from a ModelManager (one loaded at a time)."""
    from assistant.backends.manager import ModelManager
    from assistant.tuning.runner import evaluate

    manager = ModelManager(settings)

    def load(c: Any) -> Any:
        if not quiet:
            print(f"{c.label}: ", end="", file=sys.stderr, flush=True)
        return manager.get(c.model, c.adapter)

    def release(c: Any, backend: Any) -> None:
        manager.unload(manager.key(c.model, c.adapter))
        if not quiet:
            print(" done", file=sys.stderr, flush=True)

    def on_item(c: Any, index: int, result: Any) -> None:
        if not quiet:
            print("." if result.passed else "x", end="", file=sys.stderr, flush=True)

    try:
        return evaluate(task, items, candidates, load, release, on_item)
    finally:
        manager.close()


def run_eval_cmd(args: argparse.Namespace) -> int:
    from assistant.cli.common import print_json, settings_from
    from assistant.errors import SkillError
    from assistant.tuning.chart import write_chart
    from assistant.tuning.data import read_eval
    from assistant.tuning.overrides import record_override
    from assistant.tuning.results import append_run, format_table, previous_by_label
    from assistant.tuning.runner import parse_candidates
    from assistant.tuning.task import load_task

    settings = settings_from(args)
    task = load_task(settings, args.skill)
    if task.eval_file is None or not task.eval_file.is_file():
        raise SkillError(f"skill '{task.name}' has no eval set", f"add {task.folder / 'eval.jsonl'} (one JSON object per line)")
    items = read_eval(task.eval_file)
    if args.limit is not None:
        if args.limit < 1:
            raise SkillError("--limit must be at least 1", "pass a positive number of items")
        items = items[: args.limit]
    candidates = parse_candidates(args.models, task, settings.default_model)
    for c in candidates:
        settings.model(c.model)  # unknown names fail before anything loads
    previous = previous_by_label(settings, task.name)
    run = run_eval(settings, task, candidates, items, quiet=args.json)
    chart = write_chart(run, Path(args.chart) if args.chart else settings.data_dir / "eval" / f"{task.name}.svg")
    stored = None if args.no_store else append_run(settings, run)
    written = None
    best = run.winner()
    if args.write and best is not None:
        adapter = Path(best.adapter) if best.adapter else None
        written = record_override(task.name, best.model, adapter)
    if args.json:
        print_json(run.as_dict() | {"chart": str(chart), "stored": str(stored) if stored else None,
                                    "previous": previous, "written": str(written) if written else None})
    else:
        print(format_table(run, previous))
        print(f"chart: {chart}")
        if stored:
            print(f"results: {stored}")
        if written and best:
            print(f"recorded {best.label} as the model of '{task.name}' in {written}")
    return 0 if best is not None else 1
