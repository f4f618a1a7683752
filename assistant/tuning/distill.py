"""Distillation: a larger local model answers with the skill's prompt; good answers become training pairs.

The teacher's answers are kept only when they pass the skill's checks: the answer has the
promised form (a known label, schema-valid JSON, non-empty text) and, where the source row
has a reference answer, it agrees with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from assistant.backends.base import Backend
from assistant.tuning.checks import labels_of, parse_label, score_item
from assistant.tuning.runner import run_item
from assistant.tuning.task import SkillTask


@dataclass
class DistillStats:
    """How many teacher answers were asked, kept and dropped (and why)."""

    asked: int = 0
    kept: int = 0
    invalid: int = 0
    disagreed: int = 0


def _clean(task: SkillTask, output: str) -> str | None:
    """The teacher's answer in the form the student should learn, or None if malformed."""
    labels = labels_of(task.output_schema)
    if labels:
        return parse_label(output, labels)
    if task.json_schema is not None:
        probe = score_item(output, {"input": "", "expected": {}, "check": "json"}, task.output_schema)
        if not probe.valid:
            return None
        from assistant.skills.structured import parse_json

        return json.dumps(parse_json(output), ensure_ascii=False)
    text = output.strip()
    return text or None


def distill(
    task: SkillTask,
    teacher: Backend,
    rows: list[dict[str, Any]],
    on_row: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], DistillStats]:
    """Ask ``teacher`` every row's input; return the accepted ``{"input", "output"}`` pairs.

    ``rows`` are ``{"input", "output"?}`` (a training file) or ``{"input", "expected"?}``.
    """
    stats, pairs = DistillStats(), []
    for index, row in enumerate(rows):
        stats.asked += 1
        reference = row.get("output", row.get("expected"))
        if task.json_schema is not None and isinstance(reference, str):
            try:  # training files store JSON answers as text; compare them as objects
                reference = json.loads(reference)
            except ValueError:
                pass
        item = {"input": row["input"], "expected": reference if reference is not None else ""}
        result = run_item(teacher, task, item)
        answer = _clean(task, result.output)
        if answer is None:
            stats.invalid += 1
        elif reference is not None and not result.passed:
            stats.disagreed += 1
        else:
            pairs.append({"input": row["input"], "output": answer, "source": "teacher"})
            stats.kept += 1
        if on_row:
            on_row(index + 1, len(rows))
    return pairs, stats
