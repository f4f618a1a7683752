"""Every model-backed skill on its public benchmarks, through the skill, on its configured model.

    .venv/bin/python benchmarks/skills_bench.py --limit 50               # each skill on its own model
    .venv/bin/python benchmarks/skills_bench.py --limit 50 --models qwen2.5-coder-0.5b,smollm2-135m \\
        --markdown docs/model-selection.md                               # the model-selection table
    .venv/bin/python benchmarks/skills_bench.py --only code --raw        # also the model alone, no skill

Prints one JSON object: per skill and benchmark, per model, the metrics with 95 % bootstrap
intervals, TTFT, tokens/s, ms per item and peak RSS. ``--limit N`` draws N items per benchmark
at random with ``--seed`` (the same items for every model). Data: ``--data`` (default
../shared/data/bench beside the repo). Each benchmark runs in-process, one model loaded at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.bench import find_benchmark, read_rows, run_benchmark, sample
from assistant.config import REPO_ROOT, load_settings
from assistant.tuning.runner import Candidate

SUITE = {
    "classify": ["classify/agnews_test.jsonl", "classify/tweeteval_emotion_test.jsonl"],
    "extract": ["extract/snips_test.jsonl"],
    "summarize": ["summarize/dialogsum_test.jsonl", "summarize/xsum_test.jsonl"],
    "chat": ["qa/nq_open_dev.jsonl", "qa/arc_challenge_test.jsonl"],
    "code": ["code/humaneval.jsonl"],
}


def _candidates(settings, skill: str, models: str | None) -> list[Candidate]:
    from assistant.skills.registry import load_skills

    if models:
        return [Candidate(m, m) for m in models.split(",") if m]
    s = load_skills(settings).get(skill)
    model = s.model_name(settings) if s else settings.default_model
    adapter = s.adapter_path(settings) if s else None
    return [Candidate(model + ("+adapter" if adapter else ""), model, adapter)]


def run(args: argparse.Namespace) -> dict:
    settings = load_settings()
    out: dict = {"limit": args.limit, "seed": args.seed, "skills": {}}
    for skill, files in SUITE.items():
        if args.only and skill not in args.only.split(","):
            continue
        for rel in files:
            path = Path(args.data) / rel
            if not path.is_file():
                print(f"skipping {rel}: not found under {args.data}", file=sys.stderr)
                continue
            bench = find_benchmark(path, skill)
            rows = read_rows(path)
            rows = bench.prepare(rows) if bench.prepare else rows
            items = bench.items(sample(rows, args.limit, args.seed) if args.limit else rows, seed=args.seed)
            print(f"{skill} / {bench.name}: {len(items)} items", file=sys.stderr)
            modes = [False, True] if args.raw else [False]
            for raw in modes:
                result = run_benchmark(settings, bench, items, _candidates(settings, skill, args.models), skill=skill,
                                       raw=raw, seed=args.seed, file=str(path), progress=not args.quiet)
                key = bench.name + (" (raw)" if raw else "")
                out["skills"].setdefault(skill, {})[key] = result.as_dict(with_items=False)
    return out


def markdown(results: dict) -> str:
    """The model-selection table: one row per skill, benchmark and model."""
    lines = ["| skill | benchmark | model | metric | value [95 % CI] | ms/item | tok/s | peak RSS MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for skill, benches in results["skills"].items():
        for name, run in benches.items():
            for r in run["reports"]:
                if r.get("error"):
                    lines.append(f"| {skill} | {name} | {r['label']} | - | failed: {r['error'][:50]} | | | |")
                    continue
                value = r["metrics"].get(run["metric"], 0.0)
                lo, hi = r["intervals"].get(run["metric"], (value, value))
                lines.append(f"| {skill} | {name} | {r['label']} | {run['metric']} | {value * 100:.1f} [{lo * 100:.1f}-{hi * 100:.1f}] "
                             f"| {r['ms_per_item_p50'] or 0:.0f} | {r['tokens_per_s_p50'] or 0:.1f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=50, help="items per benchmark (0: the whole file)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", help="comma-separated catalog models (default: each skill's own)")
    p.add_argument("--only", help="comma-separated skills to run")
    p.add_argument("--raw", action="store_true", help="also run each request on the model alone (no skill)")
    p.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / "bench"))
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    p.add_argument("--json-out", help="also write the JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args()
    results = run(args)
    text = json.dumps(results, indent=1)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
