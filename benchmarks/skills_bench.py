"""Every model-backed skill on its public benchmarks, through the skill, on its configured model.

    .venv/bin/python benchmarks/skills_bench.py --limit 50               # each skill on its own model
    .venv/bin/python benchmarks/skills_bench.py --limit 50 --models qwen2.5-coder-0.5b,smollm2-135m \\
        --markdown docs/model-selection.md                               # the model-selection table
    .venv/bin/python benchmarks/skills_bench.py --only code --modes skill,raw   # also the model alone

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
from assistant.bench.report import store_run
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
            for raw in [m == "raw" for m in args.modes.split(",")]:
                result = run_benchmark(settings, bench, items, _candidates(settings, skill, args.models), skill=skill,
                                       raw=raw, seed=args.seed, file=str(path), progress=not args.quiet)
                if not args.no_store:
                    store_run(settings, result)  # `assistant skills list` shows the newest score
                key = bench.name + (" (raw)" if raw else "")
                out["skills"].setdefault(skill, {})[key] = result.as_dict(with_items=False)
    return out


def merge(files: list[str]) -> dict:
    """Several saved runs (``--json-out``) as one result: later files add models to earlier benches."""
    merged: dict = {"skills": {}, "runs": []}
    for name in files:
        data = json.loads(Path(name).read_text(encoding="utf-8"))
        merged["runs"].append({"file": name, "limit": data.get("limit"), "seed": data.get("seed")})
        for skill, benches in data["skills"].items():
            for bench, run in benches.items():
                have = merged["skills"].setdefault(skill, {}).setdefault(bench, {**run, "reports": []})
                have["reports"] += run["reports"]
    return merged


def markdown(results: dict) -> str:
    """The model-selection table: per skill and benchmark, each model's headline metric with its
    interval, then speed and memory; the best model per row is marked."""
    lines = ["| skill | benchmark | model | n | metric | value [95 % CI] | items in error | ms/item | tok/s | peak RSS MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for skill, benches in results["skills"].items():
        for name, run in benches.items():
            ok = [r for r in run["reports"] if not r.get("error")]
            best = max(ok, key=lambda r: r["metrics"].get(run["metric"], 0.0))["label"] if ok else None
            for r in run["reports"]:
                if r.get("error"):
                    lines.append(f"| {skill} | {name} | {r['label']} | - | - | failed: {r['error'][:50]} | | | | |")
                    continue
                value = r["metrics"].get(run["metric"], 0.0)
                lo, hi = r["intervals"].get(run["metric"], (value, value))
                mark = " **best**" if r["label"] == best and len(ok) > 1 else ""
                lines.append(f"| {skill} | {name} | {r['label']}{mark} | {r['n']} | {run['metric']} | "
                             f"{value * 100:.1f} [{lo * 100:.1f}-{hi * 100:.1f}] | {r.get('errors', 0)} | {r['ms_per_item_p50'] or 0:.0f} | "
                             f"{r['tokens_per_s_p50'] or 0:.1f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=50, help="items per benchmark (0: the whole file)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", help="comma-separated catalog models (default: each skill's own)")
    p.add_argument("--only", help="comma-separated skills to run")
    p.add_argument("--modes", default="skill", help="skill, raw (the request alone straight to the model), or skill,raw")
    p.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / "bench"))
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    p.add_argument("--render", nargs="+", metavar="RUN.json", help="run nothing: merge saved runs and print the Markdown table")
    p.add_argument("--json-out", help="also write the JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-store", action="store_true", help="do not keep the runs under the data dir")
    args = p.parse_args()
    if args.render:
        table = markdown(merge(args.render))
        print(table, end="")
        if args.markdown:
            Path(args.markdown).write_text(table, encoding="utf-8")
        return 0
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
