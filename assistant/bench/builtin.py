"""The built-in benchmarks: one adapter per public data set in the bench folder's formats.

Requests are phrased as a person would ask the skill, with the task's parameters in the
words (the label set, the fields to extract, the summary length) and a few phrasings chosen
per item, so a skill is measured on reading requests, not on one fixed template.
"""

from __future__ import annotations

import random
import re
from typing import Any, Callable

from assistant.bench.base import BenchItem, Benchmark, Scores
from assistant.bench.metrics import label_metrics, micro_f1, normalize_answer, normalize_value, rouge
from assistant.skills.structured import match_label

Request = Callable[[dict[str, Any], random.Random], BenchItem]  # a Benchmark's request


def _join(words: list[str]) -> str:
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]


# Classification -------------------------------------------------------------------------
_CLASSIFY = (
    "Classify this text as one of {labels}: {text}",
    "Which category fits this text best: {labels}?\n\n{text}",
    "Label the following text with one of these labels: {labels}.\nText: {text}",
)


def _classify_request(labels: tuple[str, ...]) -> Request:
    def request(row: dict[str, Any], rng: random.Random) -> BenchItem:
        order = list(labels or row["_labels"])
        rng.shuffle(order)
        text = " ".join(str(row["text"]).split())
        template = rng.choice(_CLASSIFY)
        return BenchItem(str(row.get("id", row.get("_line"))), template.format(labels=_join(order), text=text),
                         row["label"], {"labels": order})
    return request


def _classify_score(reply: str, item: BenchItem) -> Scores:
    got = match_label(reply, item.extra["labels"])
    return {"gold": item.reference, "predicted": got or "", "valid": float(got is not None),
            "correct": float(got == item.reference)}


def _label_aggregate(scores: list[Scores]) -> dict[str, float]:
    labels = sorted({s["gold"] for s in scores})
    out = label_metrics([s["gold"] for s in scores], [s["predicted"] for s in scores], labels)
    out["valid"] = sum(s["valid"] for s in scores) / max(1, len(scores))
    return out


def _with_labels(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = sorted({str(r["label"]) for r in rows})
    return [dict(r, _labels=labels) for r in rows]


def label_benchmark(name: str, files: tuple[str, ...], labels: tuple[str, ...] = (), metric: str = "accuracy",
                    **extra: Any) -> Benchmark:
    """A text-classification benchmark over rows ``{"text", "label"}``; no ``labels``: the file's own."""
    return Benchmark(name=name, skill="classify", metric=metric, request=_classify_request(labels),
                     score=_classify_score, aggregate=_label_aggregate, files=files,
                     prepare=None if labels else _with_labels, **extra)


# Extraction -----------------------------------------------------------------------------
_EXTRACT = (
    "extract {fields} from: {text}",
    "Pull out the fields {fields} from this text: {text}",
    "extract fields {fields} as json: {text}",
)


def _snips_request(row: dict[str, Any], rng: random.Random) -> BenchItem:
    gold: dict[str, Any] = row["slots"]
    names = list(gold)
    pool = [n for n in row.get("_intent_slots", []) if n not in gold]
    names += rng.sample(pool, min(len(pool), rng.randint(0, 2)))  # fields that are absent from the text
    rng.shuffle(names)
    text = rng.choice(_EXTRACT).format(fields=_join(names).replace(" or ", " and "), text=row["text"])
    return BenchItem(str(row.get("id", row.get("_line"))), text, gold, {"fields": names})


def _pairs(slots: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for name, value in slots.items():
        for v in value if isinstance(value, list) else [value]:
            if normalize_value(v):
                out.add((name, normalize_value(v)))
    return out


def _first_object(reply: str) -> dict[str, Any] | None:
    from assistant.skills.structured import parse_json

    try:
        value = parse_json(reply)
    except ValueError:
        return None
    if isinstance(value, list):
        value = value[0] if value and isinstance(value[0], dict) else None
    return value if isinstance(value, dict) else None


def _snips_score(reply: str, item: BenchItem) -> Scores:
    got = _first_object(reply)
    valid = got is not None and all(f in got for f in item.extra["fields"])
    predicted = _pairs({k: v for k, v in (got or {}).items() if k in item.extra["fields"]})
    gold = _pairs(item.reference)
    return {"tp": len(predicted & gold), "fp": len(predicted - gold), "fn": len(gold - predicted), "valid": float(valid)}


def _slot_aggregate(scores: list[Scores]) -> dict[str, float]:
    counts = {k: sum(s[k] for s in scores) for k in ("tp", "fp", "fn")}
    out = {f"slot_{k}": v for k, v in micro_f1(counts["tp"], counts["fp"], counts["fn"]).items()}
    out["valid"] = sum(s["valid"] for s in scores) / max(1, len(scores))
    return out


def _snips_prepare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_intent: dict[str, set[str]] = {}
    for r in rows:
        by_intent.setdefault(r.get("intent", ""), set()).update(r["slots"])
    return [dict(r, _intent_slots=sorted(by_intent.get(r.get("intent", ""), ()))) for r in rows]


# Summaries ------------------------------------------------------------------------------
def _summary_request(kind: str, templates: tuple[str, ...]) -> Request:
    def request(row: dict[str, Any], rng: random.Random) -> BenchItem:
        return BenchItem(str(row.get("id", row.get("_line"))), rng.choice(templates).format(kind=kind, text=row["text"]),
                         row["summary"])
    return request


def _rouge_score(reply: str, item: BenchItem) -> Scores:
    return rouge(item.reference, reply)


_DIALOGUE = ("Summarize this dialogue in one or two sentences:\n\n{text}",
             "Give me a short summary of this conversation, one or two sentences:\n\n{text}")
_ARTICLE = ("Summarize this article in one sentence:\n\n{text}",
            "tl;dr in one sentence:\n\n{text}")


# Questions ------------------------------------------------------------------------------
def _nq_request(row: dict[str, Any], rng: random.Random) -> BenchItem:
    question = str(row["question"]).strip()
    return BenchItem(str(row.get("id", row.get("_line"))), question if question.endswith("?") else question + "?",
                     list(row["answers"]))


def _nq_score(reply: str, item: BenchItem) -> Scores:
    said = normalize_answer(reply)
    golds = [normalize_answer(a) for a in item.reference]
    first = normalize_answer(re.split(r"(?<=[.!?])\s|\n", reply.strip(), maxsplit=1)[0])
    return {"answer_in_reply": float(any(g and re.search(rf"\b{re.escape(g)}\b", said) for g in golds)),
            "exact_match": float(first in golds or said in golds)}


def _arc_request(row: dict[str, Any], rng: random.Random) -> BenchItem:
    options = "\n".join(f"{label}. {choice}" for label, choice in zip(row["labels"], row["choices"], strict=False))
    text = f"{row['question']}\n{options}\nAnswer with the letter of the correct choice."
    return BenchItem(str(row["id"]), text, row["labels"][row["answer_index"]],
                     {"labels": list(row["labels"]), "choices": list(row["choices"])})


def pick_letter(reply: str, labels: list[str], choices: list[str]) -> str | None:
    """The option a reply picks: a leading letter, 'answer is X', or the one choice text it quotes."""
    text = reply.strip()
    letters = "".join(re.escape(x) for x in labels)
    for pattern in (rf"^\(?([{letters}])\)?(?:[.:)\s]|$)", rf"answer(?: is|:)?\s*\(?([{letters}])\b",
                    rf"\b(?:option|choice)\s+\(?([{letters}])\b"):
        m = re.search(pattern, text)
        if m:
            return m[1]
    quoted = [label for label, choice in zip(labels, choices, strict=False) if choice.lower().rstrip(".") in text.lower()]
    return quoted[0] if len(quoted) == 1 else None


def _arc_score(reply: str, item: BenchItem) -> Scores:
    got = pick_letter(reply, item.extra["labels"], item.extra["choices"])
    return {"accuracy": float(got == item.reference), "valid": float(got is not None)}


# Code -----------------------------------------------------------------------------------
HUMANEVAL_INSTRUCTION = ("Complete the following Python function. Reply with the whole function, "
                         "including the imports it needs, in one ```python code block.\n\n```python\n{prompt}```")


def _humaneval_request(row: dict[str, Any], rng: random.Random) -> BenchItem:
    return BenchItem(str(row["task_id"]), HUMANEVAL_INSTRUCTION.format(prompt=row["prompt"]), row["entry_point"],
                     {"prompt": row["prompt"], "test": row["test"]})


def code_from_reply(reply: str) -> str:
    """The Python a reply holds: its fenced blocks (python ones first), else the reply itself."""
    blocks = re.findall(r"```[ \t]*(\w*)[^\n]*\n(.*?)(?:```|\Z)", reply, re.S)
    python = [body for lang, body in blocks if lang.lower() in ("python", "py", "python3", "")]
    return "\n".join(python) if python else reply


def humaneval_program(reply: str, item: BenchItem) -> str:
    """The program to run: the reply's code (after the prompt's imports, or completing the prompt), then the tests."""
    code = code_from_reply(reply)
    prompt = item.extra["prompt"]
    if re.search(rf"^\s*def\s+{re.escape(item.reference)}\s*\(", code, re.M):
        header = "\n".join(line for line in prompt.splitlines() if re.match(r"\s*(import|from)\s", line))
        body = f"{header}\n{code}"
    else:
        body = prompt + code  # the reply is the function's body
    return f"{body}\n\n{item.extra['test']}\n\ncheck({item.reference})\n"


def _humaneval_score(reply: str, item: BenchItem) -> Scores:
    from assistant.bench.sandbox import run_python

    result = run_python(humaneval_program(reply, item))
    return {"pass@1": float(result.passed), "status": result.status, "detail": result.detail}


def builtin_benchmarks() -> list[Benchmark]:
    """The adapters this package ships, for the public data sets its skills are measured on."""
    return [
        Benchmark("humaneval", "code", "pass@1", _humaneval_request, _humaneval_score, files=("humaneval",),
                  published={"Qwen2.5-Coder-0.5B-Instruct": 0.616, "Qwen2.5-Coder-1.5B-Instruct": 0.707},
                  description="HumanEval: pass@1, greedy, each program run with its tests in a sandbox"),
        Benchmark("snips", "extract", "slot_f1", _snips_request, _snips_score, aggregate=_slot_aggregate,
                  files=("snips",), prepare=_snips_prepare,
                  description="SNIPS slot filling: micro-F1 over (field, value) pairs, fields named in the request"),
        label_benchmark("agnews", ("agnews", "ag_news"), ("World", "Sports", "Business", "Sci/Tech"),
                        description="AG News topics: accuracy and macro-F1, label order shuffled per item"),
        label_benchmark("tweeteval-emotion", ("tweeteval_emotion",), ("anger", "joy", "optimism", "sadness"),
                        metric="macro_f1", description="TweetEval emotion: macro-F1 and accuracy"),
        label_benchmark("labels", ("labels",), description="any {text, label} file: accuracy, macro-F1"),
        Benchmark("dialogsum", "summarize", "rougeL", _summary_request("dialogue", _DIALOGUE), _rouge_score,
                  files=("dialogsum",), description="DialogSum: ROUGE-1/2/L F1 against the reference summary"),
        Benchmark("xsum", "summarize", "rougeL", _summary_request("article", _ARTICLE), _rouge_score,
                  files=("xsum",), description="XSum: ROUGE-1/2/L F1 of a one-sentence summary"),
        Benchmark("nq-open", "chat", "answer_in_reply", _nq_request, _nq_score, files=("nq_open", "nq-open"),
                  max_tokens=128, description="NQ-open: a gold answer in the reply; exact match of the first sentence"),
        Benchmark("arc-challenge", "chat", "accuracy", _arc_request, _arc_score, files=("arc_challenge", "arc"),
                  max_tokens=64, description="ARC-Challenge: accuracy of the chosen letter"),
    ]
