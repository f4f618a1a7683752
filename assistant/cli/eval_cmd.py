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
    b = p.add_argument_group("public benchmarks", "run a benchmark file through the skill instead of its eval set")
    b.add_argument("--bench", metavar="FILE.jsonl", help="a benchmark file (HumanEval, SNIPS, AG News, DialogSum, ...)")
    b.add_argument("--adapter", metavar="NAME", help="the benchmark adapter (default: recognised from the file name)")
    b.add_argument("--seed", type=int, default=0, help="sample --limit items with this seed, and vary phrasings with it")
    b.add_argument("--raw", action="store_true", help="send each request straight to the model (no skill): the baseline")
    p.set_defaults(func=run_eval_cmd)


def run_eval(settings: Any, task: Any, candidates: list[Any], items: list[dict[str, Any]], *, quiet: bool = False) -> Any:
    """Evaluate ``candidates`` on ``items`` with models from a ModelManager (one loaded at a time).

    A skill with code of its own answers through that code (as in a chat turn, see
    :func:`skill_answer`); a prompt-only skill is its prompt and schema on the model.
    """
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
        return evaluate(task, items, candidates, load, release, on_item, answer=skill_answer(settings, manager, task))
    finally:
        manager.close()


def skill_answer(settings: Any, manager: Any, task: Any) -> Any:
    """For a skill with a handler of its own: answer and score one eval item through it, on a
    candidate's model (greedy), with the item's files, clock, settings and memory. ``None`` for a
    prompt-only skill (or one that did not load: the prompt path reports what the model does)."""
    import dataclasses
    import time

    from assistant.bench.runner import greedy_access, revived_after_timeout
    from assistant.errors import AssistantError
    from assistant.skills.evals import EvalItem, answer_item
    from assistant.skills.registry import load_skills
    from assistant.tuning.runner import scored

    registry = load_skills(settings)
    skill = registry.get(task.name)
    if skill is None or not skill.ok or skill.handler is None:
        return None

    def answer(candidate: Any, item: dict[str, Any]) -> Any:
        access = greedy_access(manager, settings, candidate)
        t0 = time.perf_counter()
        try:
            with revived_after_timeout(skill):
                text = answer_item(registry, skill, EvalItem(item, 0), access, (candidate.model, candidate.adapter))
            error = ""
        except AssistantError as exc:  # the skill refused or failed: an empty answer, scored as such
            text, error = "", exc.message
        result = scored(task, item, text, access.results, error)
        return dataclasses.replace(result, duration_ms=round((time.perf_counter() - t0) * 1000, 1))

    return answer


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
    if args.bench:
        return run_bench_cmd(args, settings)
    task = load_task(settings, args.skill)
    if task.eval_file is None or not task.eval_file.is_file():
        raise SkillError(f"skill '{task.name}' has no eval set", f"add {task.folder / 'eval.jsonl'} (one JSON object per line)")
    if task.model is None and not args.models:
        return run_deterministic_eval(args, settings, task)
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


def run_deterministic_eval(args: argparse.Namespace, settings: Any, task: Any) -> int:
    """A skill that runs no model: every eval item through its own code, scored with the item's check."""
    from assistant.cli.common import print_json
    from assistant.skills.evals import load_eval, run_items
    from assistant.skills.registry import load_skills

    registry = load_skills(settings)
    skill = registry.get(task.name)
    items = load_eval(task.eval_file)[: args.limit] if args.limit else load_eval(task.eval_file)
    results = run_items(registry, skill, items)
    passed = sum(ok for _, _, ok, _ in results)
    if args.json:
        print_json({"skill": task.name, "items": len(results), "passed": passed, "share": passed / len(results),
                    "results": [{"line": i.line, "input": i.input, "output": o, "passed": ok, "why": why}
                                for i, o, ok, why in results]})
    else:
        for item, _, ok, why in results:
            if not ok:
                print(f"FAIL {task.eval_file.name}:{item.line} {item.input!r}: {why}")
        print(f"{task.name}: {passed}/{len(results)} passed ({passed / len(results) * 100:.1f}%), no model used")
    return 0 if passed == len(results) else 1


def run_bench_cmd(args: argparse.Namespace, settings: Any) -> int:
    """``assistant eval SKILL --bench FILE``: a public benchmark through the skill, per model."""
    from assistant.bench import find_benchmark, read_rows, run_benchmark
    from assistant.bench.report import chart_points, format_run, store_run
    from assistant.cli.common import print_json
    from assistant.errors import SkillError
    from assistant.tuning.chart import scatter_svg
    from assistant.tuning.runner import Candidate, parse_candidates
    from assistant.tuning.task import load_task

    path = Path(args.bench).expanduser()
    bench = find_benchmark(path, args.skill, args.adapter)
    rows = read_rows(path)
    if bench.prepare is not None:
        rows = bench.prepare(rows)
    if args.limit is not None:
        from assistant.bench.base import sample

        rows = sample(rows, args.limit, args.seed)
    items = bench.items(rows, seed=args.seed)
    task = load_task(settings, args.skill)
    if args.models:
        candidates = parse_candidates(args.models, task, settings.default_model)
    elif task.model:
        candidates = [Candidate(task.model + ("+adapter" if task.adapter else ""), task.model, task.adapter)]
    else:
        raise SkillError(f"skill '{args.skill}' runs no model", "benchmarks measure model-backed skills")
    for c in candidates:
        settings.model(c.model)  # unknown names fail before anything loads
    run = run_benchmark(settings, bench, items, candidates, skill=args.skill, raw=args.raw, seed=args.seed,
                        file=str(path), progress=not args.json)
    stored = None if args.no_store else store_run(settings, run)
    chart = Path(args.chart) if args.chart else settings.data_dir / "eval" / "bench" / f"{args.skill}-{bench.name}.svg"
    chart.parent.mkdir(parents=True, exist_ok=True)
    chart.write_text(scatter_svg(f"{args.skill} on {bench.name}: {bench.metric} vs speed ({len(items)} items)",
                                 chart_points(run), "items per second (higher is cheaper)", bench.metric), encoding="utf-8")
    if args.json:
        print_json(run.as_dict() | {"chart": str(chart), "stored": [str(p) for p in stored] if stored else None})
    else:
        print(format_run(run))
        print(f"chart: {chart}")
        if stored:
            print(f"results: {stored[0]} (every reply: {stored[1]})")
    return 0 if run.winner() is not None else 1
