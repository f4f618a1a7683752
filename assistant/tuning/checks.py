"""Scoring a model's output against an eval item: one function per check type.

Checks:
    exact: the whole answer equals the expected text (case and surrounding space ignored).
    contains: the expected text appears in the answer (case ignored).
    label: the answer's first label-like word equals the expected label; an answer that is
        not one of the skill's labels scores 0 and counts as invalid.
    json: the answer parses as JSON, is valid against the skill's output schema, and each
        expected field is compared on its own (per-field accuracy; the score is their mean);
        an expected value that is not an object (a list of records) must match as a whole.
    similarity: token-overlap F1 with the expected text (a free-text check that needs no
        model), passing at ``threshold``.
    keywords: the share of required keywords that appear in the answer.

Every check returns a :class:`Score`; none raises on bad model output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.skills.structured import parse_json, schema_errors  # what skills use at run time

CHECKS = ("exact", "contains", "label", "json", "similarity", "keywords")
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass
class Score:
    """How one answer scored.

    Attributes:
        score: 0..1, what accuracy averages.
        passed: whether the answer counts as correct.
        valid: whether the answer had the required form (a known label, schema-valid JSON).
        fields: per-field correctness for JSON answers.
        detail: a short human reason.
    """

    score: float
    passed: bool
    valid: bool = True
    fields: dict[str, bool] = field(default_factory=dict)
    detail: str = ""


def _norm(text: str) -> str:
    return " ".join(text.strip().lower().split())


def check_exact(output: str, expected: str) -> Score:
    ok = _norm(output).strip(" .\"'") == _norm(expected).strip(" .\"'")
    return Score(float(ok), ok, detail="" if ok else "differs")


def parse_label(output: str, labels: list[str]) -> str | None:
    """The first word of ``output`` that is one of ``labels`` (case-insensitive), else None.

    Only the first few words are searched: a model that lists every label must not score.
    """
    known = {label.lower(): label for label in labels}
    for word in _WORD.findall(output.lower())[:3]:
        if word in known:
            return known[word]
    return None


def check_label(output: str, expected: str, labels: list[str]) -> Score:
    got = parse_label(output, labels) if labels else (_WORD.findall(output.lower()) or [None])[0]
    if got is None:
        return Score(0.0, False, valid=False, detail=f"no label in {output[:40]!r}")
    ok = got.lower() == expected.lower()
    return Score(float(ok), ok, detail="" if ok else f"said {got}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return _norm(a) == _norm(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def check_json(output: str, expected: Any, schema: dict[str, Any] | None) -> Score:
    """Per-field accuracy when ``expected`` is an object; otherwise the whole value must match
    (a list of records, a number...)."""
    try:
        value = parse_json(output)  # as the skills read it: bare, fenced, or after prose
    except ValueError:
        fields = {k: False for k in expected} if isinstance(expected, dict) else {}
        return Score(0.0, False, valid=False, fields=fields, detail="not JSON")
    problems = schema_errors(value, schema) if schema else []
    if not isinstance(expected, dict):
        ok = not problems and _same(value, expected)
        return Score(float(ok), ok, valid=not problems,
                     detail="; ".join(problems[:2]) or ("" if ok else f"expected {expected!r}, got {value!r}"[:200]))
    got = value if isinstance(value, dict) else {}
    fields = {key: key in got and _same(got[key], want) for key, want in expected.items()}
    score = sum(fields.values()) / len(fields) if fields else float(not problems)
    ok = not problems and all(fields.values())
    detail = "; ".join(problems[:2]) or ", ".join(k for k, v in fields.items() if not v)
    return Score(score, ok, valid=not problems, fields=fields, detail=detail)


def token_f1(output: str, expected: str) -> float:
    """Bag-of-words F1 between two texts (SQuAD-style), 0..1."""
    got, want = _WORD.findall(output.lower()), _WORD.findall(expected.lower())
    if not got or not want:
        return float(got == want)
    remaining = list(want)
    common = 0
    for word in got:
        if word in remaining:
            remaining.remove(word)
            common += 1
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def check_similarity(output: str, expected: str, threshold: float = 0.5) -> Score:
    f1 = token_f1(output, expected)
    return Score(f1, f1 >= threshold, detail=f"f1={f1:.2f}")


def check_keywords(output: str, keywords: list[str]) -> Score:
    text = output.lower()
    hits = [k for k in keywords if k.lower() in text]
    share = len(hits) / len(keywords) if keywords else 0.0
    missing = [k for k in keywords if k not in hits]
    return Score(share, share == 1.0, detail=f"missing {missing}" if missing else "")


def eval_labels(items: list[dict[str, Any]], schema: dict[str, Any] | None) -> list[str]:
    """The label set of a classification eval: the schema's enum, else every expected label."""
    found = labels_of(schema)
    if found:
        return found
    return sorted({str(i["expected"]) for i in items if i.get("check") == "label" and "expected" in i})


def labels_of(schema: dict[str, Any] | None) -> list[str]:
    """The labels of a classification skill: the enum of its string output schema."""
    if not schema:
        return []
    if schema.get("type") == "string" and isinstance(schema.get("enum"), list):
        return [str(v) for v in schema["enum"]]
    return []


def default_check(schema: dict[str, Any] | None, item: dict[str, Any]) -> str:
    """The check for an item that names none: from its fields and the skill's schema."""
    if "keywords" in item and "expected" not in item:
        return "keywords"
    if isinstance(item.get("expected"), dict):
        return "json"
    if labels_of(schema):
        return "label"
    return "similarity"


def score_item(output: str, item: dict[str, Any], schema: dict[str, Any] | None) -> Score:
    """Score ``output`` for one eval item (``{"input", "expected"|"keywords", "check"?}``)."""
    kind = item.get("check") or default_check(schema, item)
    expected = item.get("expected")
    if kind == "exact":
        return check_exact(output, str(expected))
    if kind == "contains":
        ok = str(expected).lower() in output.lower()
        return Score(float(ok), ok, detail="" if ok else f"{expected!r} not in answer")
    if kind == "label":
        return check_label(output, str(expected), labels_of(schema) or item.get("labels", []))
    if kind == "json":
        return check_json(output, expected if expected is not None else {}, schema)
    if kind == "keywords":
        return check_keywords(output, list(item.get("keywords", [])))
    if kind == "similarity":
        return check_similarity(output, str(expected), float(item.get("threshold", 0.5)))
    raise ValueError(f"unknown check {kind!r}; use one of {', '.join(CHECKS)}")
