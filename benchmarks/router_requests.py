"""Routing of requests that carry their own text, on the public benchmarks' data.

Usage: .venv/bin/python benchmarks/router_requests.py [--split test|dev] [--limit N] [--seed S]
       [--details]

Each public set of ../shared/data/bench becomes requests to the installed skills, and the
router (the app's own: installed skills, saved corrections, [router] settings) picks a
skill for each. ``test`` (the default) phrases them as ``assistant eval`` does (the
benchmark adapters of assistant.bench.builtin) over the test files: DialogSum and XSum for
summarize, AG News and TweetEval emotion for classify, SNIPS for extract, HumanEval for code,
NQ-open (odd lines) and ARC-Challenge for chat. ``dev`` phrases the train files (and NQ-open's
even lines) with other wordings, written here; routing choices are made on ``dev`` only.

Two ways are measured side by side on the same requests: ``instruction`` (the router as the
app runs it: a request with an instruction part is decided by it) and ``whole_text`` (the
whole request embedded and scored as one text). Accuracy per skill and overall with 95 %
bootstrap intervals; misroutes counted by destination. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "data" / "bench"

# test: (benchmark adapter, file, skill)
TEST_SETS = [
    ("dialogsum", "summarize/dialogsum_test.jsonl", "summarize"),
    ("xsum", "summarize/xsum_test.jsonl", "summarize"),
    ("agnews", "classify/agnews_test.jsonl", "classify"),
    ("tweeteval-emotion", "classify/tweeteval_emotion_test.jsonl", "classify"),
    ("snips", "extract/snips_test.jsonl", "extract"),
    ("humaneval", "code/humaneval.jsonl", "code"),
    ("arc-challenge", "qa/arc_challenge_test.jsonl", "chat"),
]
# dev: wordings other than the adapters', over the train files
DEV_WORDING = {
    "summarize": ("summarize:\n{text}", "can you sum this up for me?\n{text}", "tl;dr: {text}",
                  "give me the key points of this conversation:\n{text}", "summarize: {text}",
                  "short summary please:\n\n{text}"),
    "classify": ("classify this as one of {labels}: {text}", "is this {labels}? {text}",
                 "pick a label ({labels}) for: {text}", "categorize into {labels}:\n{text}",
                 "which of {labels} is this: {text}"),
    "extract": ("extract the {fields} from: {text}", "get {fields} out of this: {text}",
                "find the {fields} in this text and return json: {text}", "pull {fields} from:\n{text}"),
}
DEV_LABELS = {"classify/agnews_train.jsonl": ["World", "Sports", "Business", "Sci/Tech"],
              "classify/tweeteval_emotion_train.jsonl": ["anger", "joy", "optimism", "sadness"]}


def _join(words: list[str], last: str = "or") -> str:
    return ", ".join(words[:-1]) + f" {last} {words[-1]}" if len(words) > 1 else words[0]


def _nq(limit: int, parity: int) -> list[tuple[str, str]]:
    from assistant.bench.base import read_rows

    rows = read_rows(BENCH / "qa" / "nq_open_dev.jsonl")[parity::2][:limit]
    return [("chat", str(r["question"]).strip().rstrip("?") + "?") for r in rows]


def test_requests(limit: int, seed: int) -> list[tuple[str, str]]:
    from assistant.bench.base import read_rows, sample
    from assistant.bench.builtin import builtin_benchmarks

    benches = {b.name: b for b in builtin_benchmarks()}
    out: list[tuple[str, str]] = []
    for name, file, skill in TEST_SETS:
        bench = benches[name]
        rows = read_rows(BENCH / file)
        rows = bench.prepare(rows) if bench.prepare else rows
        out += [(skill, item.text) for item in bench.items(sample(rows, limit, seed), seed)]
    return out + _nq(limit, 1)


def dev_requests(limit: int, seed: int) -> list[tuple[str, str]]:
    from assistant.bench.base import read_rows, sample

    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for row in sample(read_rows(BENCH / "summarize" / "dialogsum_train.jsonl"), limit, seed):
        out.append(("summarize", rng.choice(DEV_WORDING["summarize"]).format(text=row["text"])))
    for file, labels in DEV_LABELS.items():
        for row in sample(read_rows(BENCH / file), limit // 2, seed):
            order = labels[:]
            rng.shuffle(order)
            out.append(("classify", rng.choice(DEV_WORDING["classify"]).format(labels=_join(order), text=row["text"])))
    for row in sample(read_rows(BENCH / "extract" / "snips_train.jsonl"), limit, seed):
        if row["slots"]:
            fields = _join([k.replace("_", " ") for k in row["slots"]], "and")
            out.append(("extract", rng.choice(DEV_WORDING["extract"]).format(fields=fields, text=row["text"])))
    return out + _nq(limit, 0)


def _accuracy(scores: list[dict[str, Any]]) -> dict[str, float]:
    return {"accuracy": sum(s["ok"] for s in scores) / max(1, len(scores))}


def summarise(gold: list[str], got: list[str]) -> dict[str, Any]:
    from assistant.bench.metrics import bootstrap

    def one(idx: list[int]) -> dict[str, Any]:
        scores = [{"ok": float(gold[i] == got[i])} for i in idx]
        low, high = bootstrap(scores, _accuracy).get("accuracy", (None, None))
        wrong = Counter(got[i] for i in idx if got[i] != gold[i])
        return {"n": len(idx), "accuracy": round(_accuracy(scores)["accuracy"], 4),
                "interval": [round(low, 4), round(high, 4)] if low is not None else None,
                "misrouted_to": dict(wrong.most_common())}

    out = {"all": one(list(range(len(gold))))}
    for skill in dict.fromkeys(gold):
        out[skill] = one([i for i, g in enumerate(gold) if g == skill])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["test", "dev"], default="test")
    ap.add_argument("--limit", type=int, default=150, help="requests per public set (default 150)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--details", action="store_true", help="every misrouted request")
    args = ap.parse_args()
    from assistant.cli.router_cmd import app_router
    from assistant.config import load_settings
    from assistant.router.instruction import instruction_of

    settings = load_settings()
    router = app_router(settings)
    fallback = settings.router.fallback_skill
    requests = (test_requests if args.split == "test" else dev_requests)(args.limit, args.seed)
    gold = [skill for skill, _ in requests]
    texts = [text for _, text in requests]
    app = [router.route(t).skill_or(fallback) for t in texts]
    whole = [router.score_vector(router.embedder.encode([t])[0], t).skill_or(fallback) for t in texts]
    result: dict[str, Any] = {
        "split": args.split, "limit": args.limit, "seed": args.seed, "n": len(texts),
        "with_instruction_part": sum(instruction_of(t) is not None for t in texts),
        "embedder": router.embedder.name, "threshold": round(router.threshold, 4),
        "instruction": summarise(gold, app), "whole_text": summarise(gold, whole),
    }
    if args.details:
        result["misrouted"] = [{"want": g, "got": a, "whole_text": w, "text": t[:160]}
                               for g, a, w, t in zip(gold, app, whole, texts, strict=True) if a != g]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
