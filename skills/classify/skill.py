"""Classify skill: sentiment, topic, language or the user's own labels, for a text or a file.

For a file (CSV, XLSX, JSON, text) every row is labelled (the text column is the one named, or
the one with the longest texts), with progress; the result is a summary table of label counts
and a CSV with a new ``label`` column written beside the input (never overwriting it).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from assistant.backends.base import ChatMessage
from assistant.errors import SkillError
from assistant.events import Progress
from assistant.skills.files import Limits, beside, format_rows, markdown_table, read_table, write_new
from assistant.skills.structured import generate_structured
from assistant.skills.tools import mentioned_paths

TASKS = {
    "sentiment": ["positive", "negative", "neutral"],
    "topic": ["work", "personal", "finance", "health", "technology", "travel", "shopping", "sports", "politics", "other"],
}
_LABELS = re.compile(r"\b(?:labels?|categories|classes|as one of|into|as either|as)\s*:?\s+((?:[\w-]+\s*(?:,|\bor\b|/)\s*)+[\w-]+)", re.I)
_COLUMN = re.compile(r"\b(?:column|field)\s+[\"']?([\w -]+?)[\"']?(?=\s+(?:of|in|from)\b|[,.;]|$)", re.I)
_BODY = re.compile(r"^.*?(?::|\btext\b\s*[-:]?)\s*(.+)$", re.S)


def parse_task(text: str) -> tuple[str, list[str] | None]:
    """(task name, labels) from the request; labels ``None`` means free text (language)."""
    low = text.lower()
    m = _LABELS.search(text)
    if m:
        labels = [w.strip().lower() for w in re.split(r",|\bor\b|/", m[1]) if w.strip()]
        if len(labels) >= 2:
            return "labels", list(dict.fromkeys(labels))
    if "language" in low:
        return "language", None
    if "topic" in low or "category" in low:
        return "topic", TASKS["topic"]
    return "sentiment", TASKS["sentiment"]


def _text_of(ctx) -> str:
    m = _BODY.match(ctx.text)
    return m[1].strip() if m else ctx.text.strip()


def classify_one(ctx, text: str, task: str, labels: list[str] | None) -> str:
    """One label (or language name) for ``text``."""
    if labels is None:
        schema: dict[str, Any] = {"type": "object", "properties": {"language": {"type": "string", "maxLength": 30}},
                                  "required": ["language"], "additionalProperties": False}
        instruction = "Name the language the text is written in, in English (e.g. French)."
    else:
        schema = {"type": "string", "enum": labels}
        instruction = f"Classify the {task if task != 'labels' else 'text'}. Answer with exactly one of: {', '.join(labels)}."
    messages = [ChatMessage("system", f"{ctx.prompt}\n{instruction}"), ChatMessage("user", text[:4000])]
    value = generate_structured(ctx.generate, messages, schema, skill=ctx.skill_name, max_tokens=16)
    return value if isinstance(value, str) else str(value["language"]).strip().capitalize()


def _text_column(columns: list[str], rows: list[dict[str, Any]], wanted: str | None) -> str:
    if wanted:
        for c in columns:
            if c.lower() == wanted.strip().lower():
                return c
        raise SkillError(f"the file has no column '{wanted}'", f"columns: {', '.join(columns)}")
    sample = rows[:50]
    return max(columns, key=lambda c: sum(len(str(r.get(c, ""))) for r in sample))


def summary(labels: list[str]) -> str:
    counts = Counter(labels)
    total = max(1, len(labels))
    rows = [{"label": k, "count": v, "share": f"{100 * v / total:.0f}%"} for k, v in counts.most_common()]
    return markdown_table(rows, ["label", "count", "share"])


def _classify_file(ctx, path: Path, task: str, labels: list[str] | None) -> Iterator[str | Progress]:
    table = read_table(path, Limits(max_rows=int(ctx.settings.get("max_rows", 5000))))
    if not table.rows:
        yield f"{path.name} has no rows to classify."
        return
    m = _COLUMN.search(ctx.text)
    column = _text_column(table.columns, table.rows, m[1] if m else None)
    out_labels: list[str] = []
    failures: list[str] = []
    for i, row in enumerate(table.rows):
        if ctx.cancel.is_set():
            return
        if i % 5 == 0:
            yield Progress(f"classifying row {i + 1} of {len(table.rows)}", i / len(table.rows))
        text = str(row.get(column, "")).strip()
        try:
            label = classify_one(ctx, text, task, labels) if text else ""
        except SkillError as exc:
            label = ""
            failures.append(f"row {i + 1}: {exc.message}")
        out_labels.append(label)
        row["label"] = label
    target = ctx.tools.check_create(beside(path, "classified", ".csv"))
    written = write_new(target, format_rows(table.rows, table.columns + ["label"], "csv"))
    yield Progress("done", 1.0)
    yield f"Classified {len(table.rows)} rows of {path.name} by {task} (column '{column}'); wrote {written}.\n\n"
    yield summary([lab for lab in out_labels if lab]) + "\n"
    if failures:
        yield f"\n{len(failures)} rows failed:\n" + "\n".join(f"- {f}" for f in failures[:20]) + "\n"


def respond(ctx) -> Iterator[str | Progress]:
    task, labels = parse_task(ctx.text)
    files = list(ctx.attachments) or mentioned_paths(ctx.text)
    if files:
        yield from _classify_file(ctx, ctx.tools.check_read(files[0]), task, labels)
        return
    text = _text_of(ctx)
    if not text:
        yield "What should I classify? Write it after a colon, e.g. 'sentiment: the food was great'."
        return
    yield classify_one(ctx, text, task, labels)
