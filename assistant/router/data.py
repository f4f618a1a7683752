"""Labelled utterances in JSON Lines (``{"text": ..., "label": ...}``), read strictly.

Every problem is a :class:`RouterError` naming the file and line, because a silently skipped
line would quietly change a benchmark figure.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import RouterError
from assistant.router.types import RouteSpec

OOS_LABEL = "oos"


@dataclass(frozen=True)
class Example:
    """One labelled utterance; ``label == "oos"`` means out of scope."""

    text: str
    label: str


def read_jsonl(path: Path) -> list[Example]:
    """Read a labelled JSONL file.

    Blank lines are allowed; everything else must be an object with string ``text`` and
    ``label``.

    Raises:
        RouterError: the file is missing, unreadable, empty, or a line is malformed.
    """
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RouterError(f"{path}: no such file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RouterError(f"{path}: cannot read: {exc}", "the file must be UTF-8 JSON Lines") from None
    out: list[Example] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        out.append(_parse_line(path, number, line))
    if not out:
        raise RouterError(
            f"{path}: the file has no examples",
            'write one JSON object per line: {"text": "...", "label": "..."}',
        )
    return out


def _parse_line(path: Path, number: int, line: str) -> Example:
    hint = 'each line must be a JSON object like {"text": "...", "label": "..."}'
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RouterError(f"{path}, line {number}: invalid JSON ({exc.msg})", hint) from None
    if not isinstance(obj, dict):
        raise RouterError(f"{path}, line {number}: expected a JSON object, got {type(obj).__name__}", hint)

    def non_empty(key: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise RouterError(f"{path}, line {number}: '{key}' must be a non-empty string", hint)
        return value

    return Example(text=non_empty("text"), label=non_empty("label"))


def routes_from_examples(examples: list[Example]) -> list[RouteSpec]:
    """One route per in-scope label; ``oos`` training lines become fallback examples.

    Routes keep first-seen label order so results do not depend on hash seeds.
    """
    by_label: dict[str, list[str]] = defaultdict(list)
    negatives: list[str] = []
    for ex in examples:
        if ex.label == OOS_LABEL:
            negatives.append(ex.text)
        else:
            by_label[ex.label].append(ex.text)
    routes = [RouteSpec(name, texts) for name, texts in by_label.items()]
    if negatives and routes:
        # The router pools every route's fallback examples into one reject class;
        # attaching them to the first route is enough.
        first = routes[0]
        routes[0] = RouteSpec(first.name, first.examples, fallback_examples=negatives)
    return routes


def sample_per_label(examples: list[Example], per_label: int, seed: int) -> list[Example]:
    """At most ``per_label`` examples of each label, drawn with a fixed seed."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    rng = random.Random(seed)
    out: list[Example] = []
    for label in sorted(by_label):
        items = by_label[label]
        out.extend(items if len(items) <= per_label else rng.sample(items, per_label))
    return out
