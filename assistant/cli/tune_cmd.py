"""``assistant tune SKILL --base MODEL``: LoRA fine-tuning on the CPU, exported for llama.cpp."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``assistant tune``."""
    p = sub.add_parser(
        "tune",
        help="fine-tune a small model for a skill (LoRA on the CPU)",
        description=(
            "Train a LoRA adapter for SKILL on base model MODEL from the skill's train.jsonl "
            "(or --data FILE: one {\"input\": ..., \"output\": ...} per line), export it as a GGUF "
            "adapter, check llama.cpp loads it, register it for the skill and evaluate before/after. "
            "Ctrl-C keeps the last checkpoint; running the same command again resumes."
        ),
    )
    p.add_argument("skill")
    p.add_argument("--base", required=True, metavar="MODEL", help="catalog model to adapt (e.g. gemma-3-270m)")
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (default 16)")
    p.add_argument("--batch", type=int, default=8, help="examples per step (default 8)")
    p.add_argument("--max-steps", type=int, metavar="N", help="stop after N steps (overrides --epochs)")
    p.add_argument("--top-layers", type=int, metavar="N", help="adapt only the top N transformer layers (faster)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: runtime.threads)")
    p.add_argument("--data", metavar="FILE", help="training JSONL (default: the skill's train.jsonl)")
    p.add_argument("--teacher", metavar="MODEL", help="first let this larger local model answer the inputs; keep answers that pass the skill's checks")
    p.add_argument("--inputs", metavar="FILE", help="with --teacher: JSONL of {\"input\": ...} to label (default: the training inputs)")
    p.add_argument("--out", metavar="FILE", help="adapter file (default: <data dir>/adapters/SKILL-MODEL.lora.gguf)")
    p.add_argument("--no-register", action="store_true", help="do not record the adapter in your config")
    p.add_argument("--no-eval", action="store_true", help="skip the before/after eval")
    p.add_argument("--eval-limit", type=int, metavar="N", help="use only the first N eval items")
    p.add_argument("--restart", action="store_true", help="discard an earlier checkpoint and start over")
    p.add_argument("--max-len", type=int, default=160, metavar="N", help="longest training example in tokens (default 160)")
    p.set_defaults(func=run_tune_cmd)

    d = sub.add_parser(
        "tune-data",
        help="build a skill's training file from a public data set (the skill's own recipe)",
        description=(
            "Call SKILL's training recipe (training_pairs in its skill.py) on rows of public data sets "
            "(JSONL) and write the pairs `assistant tune --data` reads. The recipe builds each request "
            "exactly as the skill sends it, with its parameters (fields, labels) varied. Use train "
            "splits only; keep test splits for measuring."
        ),
    )
    d.add_argument("skill")
    d.add_argument("--source", action="append", required=True, metavar="FILE", help="JSONL rows; repeat for several sets")
    d.add_argument("--count", type=int, default=1000, metavar="N", help="pairs to write (default 1000)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", required=True, metavar="FILE")
    d.set_defaults(func=run_tune_data_cmd)


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def progress_line(p: Any, width: int = 24) -> str:
    """One line of the progress bar: steps, bar, loss, elapsed and time left."""
    done = int(width * p.step / max(1, p.total))
    resumed = f" (resumed at {p.resumed_from})" if p.resumed_from else ""
    return (f"step {p.step}/{p.total} [{'#' * done}{'.' * (width - done)}] loss {p.loss:.4f} "
            f"{_clock(p.elapsed_s)} elapsed, {_clock(p.eta_s)} left{resumed}")


def _distill(args: argparse.Namespace, settings: Any, task: Any) -> list[dict[str, Any]]:
    from assistant.backends.manager import ModelManager
    from assistant.tuning.data import read_jsonl, read_training, write_jsonl
    from assistant.tuning.distill import distill
    from assistant.tuning.tune import run_dir

    source = Path(args.inputs) if args.inputs else (Path(args.data) if args.data else task.train_file)
    rows = read_jsonl(source, required=("input",), kind="inputs") if args.inputs else read_training(source)
    manager = ModelManager(settings)
    try:
        teacher = manager.get(args.teacher)
        print(f"distilling: {args.teacher} answers {len(rows)} inputs from {source}", file=sys.stderr)
        pairs, stats = distill(task, teacher, rows,
                               on_row=lambda i, n: print(f"\r  {i}/{n}", end="", file=sys.stderr, flush=True))
    finally:
        manager.close()
    out = run_dir(settings, task.name, args.base) / "distilled.jsonl"
    write_jsonl(out, pairs)
    print(f"\nkept {stats.kept} of {stats.asked} teacher answers ({stats.invalid} malformed, "
          f"{stats.disagreed} disagreed with the reference) -> {out}", file=sys.stderr)
    return pairs


def _eval(settings: Any, task: Any, labels: list[str], limit: int | None, title: str) -> None:
    from assistant.cli.eval_cmd import run_eval
    from assistant.tuning.data import read_eval
    from assistant.tuning.results import append_run, format_table, previous_by_label
    from assistant.tuning.runner import parse_candidates

    if task.eval_file is None or not task.eval_file.is_file():
        print(f"(no eval set for {task.name}; skipping the {title} eval)")
        return
    items = read_eval(task.eval_file)[: limit or None]
    previous = previous_by_label(settings, task.name)
    run = run_eval(settings, task, parse_candidates(",".join(labels), task, settings.default_model), items)
    append_run(settings, run)
    print(f"\n{title}:\n{format_table(run, previous)}")


def run_tune_cmd(args: argparse.Namespace) -> int:
    from assistant.cli.common import settings_from
    from assistant.tuning.overrides import record_override
    from assistant.tuning.task import load_task
    from assistant.tuning.trainer import TuneConfig
    from assistant.tuning.tune import run_dir, run_tune

    settings = settings_from(args)
    settings.model(args.base)
    task = load_task(settings, args.skill)
    config = TuneConfig(epochs=args.epochs, lr=args.lr, rank=args.rank, alpha=args.alpha, batch_size=args.batch,
                        max_steps=args.max_steps, seed=args.seed, top_layers=args.top_layers, max_len=args.max_len)
    if args.restart:
        shutil.rmtree(run_dir(settings, task.name, args.base) / "checkpoint", ignore_errors=True)
    extra = _distill(args, settings, task) if args.teacher else []
    if not args.no_eval:
        before = [args.base] + ([f"{args.base}+adapter"] if task.adapter and task.model == args.base and task.adapter.is_file() else [])
        _eval(settings, task, before, args.eval_limit, "before")
    tty = sys.stderr.isatty()

    def on_step(p: Any) -> None:
        line = progress_line(p)
        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        result = run_tune(settings, task, args.base, config, data=Path(args.data) if args.data else None,
                          out=Path(args.out) if args.out else None, extra_pairs=extra, on_step=on_step,
                          threads=args.threads, log=lambda m: print(m, file=sys.stderr))
    finally:
        if tty:
            print(file=sys.stderr)
    print(f"adapter: {result.adapter} ({result.size_bytes / 2**20:.1f} MB, {result.steps} steps, "
          f"loss {result.first_loss:.3f} -> {result.final_loss:.3f}, {_clock(result.train_s)} training, "
          f"{_clock(time.perf_counter() - started)} in all)")
    print(f"llama.cpp loads it; largest logit change on a training prompt: {result.logit_change:.3f}")
    if not args.no_register:
        path = record_override(task.name, args.base, result.adapter)
        print(f"registered for skill '{task.name}' in {path} ([skills.overrides.{task.name}])")
    if not args.no_eval:
        _eval(settings, task, [args.base, f"{args.base}+{result.adapter}"], args.eval_limit, "after")
    return 0


def run_tune_data_cmd(args: argparse.Namespace) -> int:
    from assistant.cli.common import settings_from
    from assistant.tuning.recipes import build_pairs

    settings = settings_from(args)
    pairs = build_pairs(settings, args.skill, [Path(p) for p in args.source], args.count, args.seed, Path(args.out))
    print(f"wrote {len(pairs)} training pairs for '{args.skill}' to {args.out}")
    return 0
