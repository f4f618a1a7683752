"""What a benchmark is: a public data set turned into requests for one skill, and a scorer.

A :class:`Benchmark` adapts the rows of a JSON Lines file to the way a user would ask the
skill (:meth:`Benchmark.request`), scores each reply (``score``) and combines the per-item
scores into the task's standard metrics (``aggregate``; by default the mean of each value).
Register one with :func:`assistant.bench.registry.register` and ``assistant eval SKILL --bench
FILE`` runs it through the skill exactly as a chat turn would. A plugin author adds a benchmark
in a few lines::

    from assistant.bench import Benchmark, BenchItem, register

    register(Benchmark(
        name="weather-qa", skill="weather", metric="exact",
        request=lambda row, rng: BenchItem(str(row["id"]), row["question"], row["answer"]),
        score=lambda reply, item: {"exact": float(item.reference.lower() in reply.lower())},
        files=("weather_qa",),
    ))
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.errors import SkillError

Scores = dict[str, Any]


@dataclass(frozen=True)
class BenchItem:
    """One request to the skill and what its reply is scored against.

    Attributes:
        id: the row's id in its data set (or its line number).
        text: the user's message, written as a person would ask.
        reference: what the scorer compares the reply to (a label, an answer list, a summary...).
        extra: anything else the scorer needs (a label set, a test program...).
    """

    id: str
    text: str
    reference: Any
    extra: dict[str, Any] = field(default_factory=dict)


def mean_aggregate(scores: list[Scores]) -> dict[str, float]:
    """The mean of every numeric per-item value."""
    keys = [k for k, v in (scores[0] if scores else {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    n = max(1, len(scores))
    return {k: sum(float(s[k]) for s in scores) / n for k in keys}


@dataclass(frozen=True)
class Benchmark:
    """A public benchmark for one skill.

    Attributes:
        name: how it is named on the command line and in results.
        skill: the skill it measures.
        metric: the headline metric (a key of ``aggregate``'s result).
        request: ``(row, rng) -> BenchItem``; ``rng`` is seeded per item (label order, fields...).
        score: ``(reply, item) -> per-item scores`` (numbers, or values ``aggregate`` reads).
        aggregate: per-item scores -> metrics; default: the mean of each numeric value.
        files: file-name stems this benchmark recognises (``agnews`` matches agnews_test.jsonl).
        prepare: called once with every row of the file before sampling (to collect a label
            set, say); returns the rows ``request`` will see.
        max_tokens: a cap on the reply length for this benchmark (``None``: the skill's own).
        published: figures to print beside ours, e.g. ``{"Qwen2.5-Coder-0.5B-Instruct": 61.6}``.
    """

    name: str
    skill: str
    metric: str
    request: Callable[[dict[str, Any], random.Random], BenchItem]
    score: Callable[[str, BenchItem], Scores]
    aggregate: Callable[[list[Scores]], dict[str, float]] = mean_aggregate
    files: tuple[str, ...] = ()
    prepare: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
    max_tokens: int | None = None
    published: dict[str, float] = field(default_factory=dict)
    description: str = ""

    def items(self, rows: list[dict[str, Any]], seed: int = 0) -> list[BenchItem]:
        """Every row as a request; each row's random choices depend only on ``seed`` and its index."""
        return [self.request(row, random.Random(f"{seed}:{i}")) for i, row in enumerate(rows)]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON Lines file (each gets ``_line``, its line number).

    Raises:
        SkillError: unreadable file or a line that is not a JSON object (naming the line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillError(f"cannot read benchmark {path}: {exc}", "pass a JSON Lines file") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise SkillError(f"{path}:{number}: not valid JSON: {exc}", "one JSON object per line") from None
        if not isinstance(row, dict):
            raise SkillError(f"{path}:{number}: each line must be a JSON object", "one JSON object per line")
        row.setdefault("_line", number)
        rows.append(row)
    if not rows:
        raise SkillError(f"{path}: the benchmark is empty", "pass a file with at least one row")
    return rows


def sample(rows: list[dict[str, Any]], limit: int, seed: int = 0) -> list[dict[str, Any]]:
    """``limit`` rows drawn at random with ``seed`` (kept in file order); all of them if fewer.

    The draw is nested: with the same seed, the items of ``limit=20`` are among those of ``limit=40``.

    Raises:
        SkillError: ``limit`` below 1.
    """
    if limit < 1:
        raise SkillError("--limit must be at least 1", "pass a positive number of items")
    if limit >= len(rows):
        return rows
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)  # a smaller limit draws a subset of a larger one's items
    keep = sorted(order[:limit])
    return [rows[i] for i in keep]
