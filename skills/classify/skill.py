"""Classify skill: sentiment, topic, language or the user's own labels, for a text or a file.

For a file (CSV, XLSX, JSON, text) every row is labelled (the text column is the one named, or
the one with the longest texts), with progress; the result is a summary table of label counts
and a CSV with a new ``label`` column written beside the input (never overwriting it).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from assistant.skills import (
    ChatMessage,
    Limits,
    Progress,
    SkillContext,
    SkillError,
    beside,
    format_rows,
    generate_structured,
    markdown_table,
    mentioned_paths,
    read_table,
    write_new,
)

TASKS = {
    "sentiment": ["positive", "negative", "neutral"],
    "topic": ["work", "personal", "finance", "health", "technology", "travel", "shopping", "sports", "politics", "other"],
}
_CUE = re.compile(r"\b(?:labels?|categories|category|classes|topics|options|one of|either|into|as|best)\b\s*:?\s*", re.I)
_LEAD = re.compile(r"(?:(?:one of|either)\s+)?(?:(?:these|the following)\s+)?(?:(?:labels|categories|classes|topics|options)\s*)?:?\s*", re.I)
_END = re.compile(r"\s*(?::|\?|\n|\.(?=\s|$))")
_COLUMN = re.compile(r"\b(?:column|field)\s+[\"']?([\w -]+?)[\"']?(?=\s+(?:of|in|from)\b|[,.;]|$)", re.I)
_BODY = re.compile(r"^.*?(?::|\btext\b\s*[-:]?)\s*(.+)$", re.S)
_TEXT_LABEL = re.compile(r"^\s*(?:text|input|message|tweet|article)\s*:\s*", re.I)


def _split_labels(segment: str) -> list[str] | None:
    """'A, B or C' / 'A/B, C and D' -> labels; None unless it reads as a short list of 2+ labels."""
    parts = [p.strip(" \t'\"`*") for p in re.split(r"\s*,\s*(?:(?:or|and)\s+)?|\s+or\s+", segment.strip())]
    if len(parts) < 2 and " and " in segment:
        parts = [p.strip() for p in segment.split(" and ")]
    labels = [p for p in parts if p]
    if len(labels) < 2 or any(len(p.split()) > 3 or len(p) > 40 for p in labels):
        return None
    return list(dict.fromkeys(labels))


def read_request(text: str) -> tuple[str, list[str] | None, str]:
    """(task, labels, the text to classify) from the request.

    Labels are a list the user wrote after a cue ('as', 'into', 'one of', 'labels:'...), kept as
    written ('Sci/Tech' stays one label); without one, the task is language, topic or sentiment.
    The text is what follows the label list (or the first colon / line), ``""`` if nothing does.
    ``labels`` is ``None`` for language detection (free answer).
    """
    head, newline, rest = text.partition("\n")
    for cue in _CUE.finditer(head):
        start = cue.end()
        lead = _LEAD.match(head, start)
        start = lead.end() if lead else start
        stop = _END.search(head, start)
        segment = head[start:stop.start()] if stop else head[start:]
        labels = _split_labels(segment)
        if labels:
            after = (head[stop.end():] if stop else "") + (newline + rest if newline else "")
            return "labels", labels, _TEXT_LABEL.sub("", after.strip()).strip()
    low = head.lower()
    task, labels = ("language", None) if "language" in low else (
        ("topic", TASKS["topic"]) if "topic" in low or "category" in low else ("sentiment", TASKS["sentiment"]))
    if newline and ":" not in head:
        return task, labels, _TEXT_LABEL.sub("", rest.strip())
    m = _BODY.match(text)
    return task, labels, _TEXT_LABEL.sub("", m[1].strip()) if m else text.strip()


def parse_task(text: str) -> tuple[str, list[str] | None]:
    """(task name, labels) from the request; labels ``None`` means free text (language)."""
    task, labels, _ = read_request(text)
    return task, labels


def classify_one(ctx: SkillContext, text: str, task: str, labels: list[str] | None) -> str:
    """One label (or language name) for ``text``."""
    if labels is None:
        schema: dict[str, Any] = {"type": "object", "properties": {"language": {"type": "string", "maxLength": 30}},
                                  "required": ["language"], "additionalProperties": False}
        messages = [ChatMessage("system", f"{ctx.prompt}\nName the language the text is written in, in English (e.g. French)."),
                    ChatMessage("user", text[:4000])]
    else:
        schema = {"type": "string", "enum": labels}
        messages = label_messages(ctx.prompt, text, task, labels)
    # A tuned model learnt label lists; naming a language goes to ``language_model`` when set.
    generate = ctx.generate_on(ctx.settings.get("language_model")) if labels is None else ctx.generate
    value = generate_structured(generate, messages, schema, skill=ctx.skill_name, max_tokens=16)
    return value if isinstance(value, str) else str(value["language"]).strip().capitalize()


def label_messages(prompt: str, text: str, task: str, labels: list[str]) -> list[ChatMessage]:
    """The chat for choosing one of ``labels`` (the training recipe builds the same one).

    The label set is stated before and after the text: small models otherwise drift to
    whichever label they saw last or to one they like (chosen on AG News *train*, see
    docs/model-selection.md).
    """
    listed = ", ".join(labels)
    what = "text" if task == "labels" else f"{task} of the text"
    return [ChatMessage("system", f"{prompt}\nChoose the label that best describes the {what}. Labels: {listed}."),
            ChatMessage("user", f"{text[:4000]}\n\nLabel (one of {listed}):")]


# Training recipe (`assistant tune-data classify --source agnews_train.jsonl --source ...`) -------
# Other ways people name the public sets' labels, so the adapter reads the label list it is
# given rather than memorising one; every list is also shuffled and sometimes shortened or
# given a label from another task.
SYNONYMS = {
    "World": ["world", "world news", "international", "politics"], "Sports": ["sports", "sport", "athletics"],
    "Business": ["business", "economy", "finance"], "Sci/Tech": ["science and technology", "technology", "tech", "science"],
    "anger": ["angry", "Anger", "rage"], "joy": ["happy", "Joy", "happiness"], "optimism": ["hopeful", "Optimism", "hope"],
    "sadness": ["sad", "Sadness", "sorrow"],
}


def _intent_label(name: str) -> str:
    """'AddToPlaylist' -> 'add to playlist'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


def training_pairs(rows: list[dict[str, Any]], prompt: str, rng: Any, count: int) -> list[dict[str, Any]]:
    """Label-conditioned pairs from ``{"text", "label"}`` rows (or slot-filling rows by ``intent``).

    The label set of a row is its source file's (``_source``); each pair shows it shuffled, with
    about a third of the names swapped for a synonym, sometimes one wrong label left out and
    sometimes a label of another task added. Sources are drawn evenly. The answer is the JSON
    string the skill's grammar admits.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        label = row.get("label") or (_intent_label(row["intent"]) if row.get("intent") else None)
        text = str(row.get("text", "")).strip()
        if label and text and len(text) <= 700:
            groups.setdefault(str(row.get("_source", "")), []).append({"text": text, "label": str(label)})
    label_sets = {src: sorted({r["label"] for r in group}) for src, group in groups.items()}
    others = sorted({lab for labs in label_sets.values() for lab in labs})
    per_source = max(1, count // max(1, len(groups)))
    pairs: list[dict[str, Any]] = []
    for src, group in sorted(groups.items()):
        for row in rng.sample(group, min(per_source, len(group))):
            gold = row["label"]
            names = list(label_sets[src])
            if len(names) > 2 and rng.random() < 0.2:
                names.remove(rng.choice([n for n in names if n != gold]))
            if rng.random() < 0.2:
                extra = [n for n in others if n not in label_sets[src]]
                names += rng.sample(extra, min(len(extra), 1))
            rng.shuffle(names)
            shown = {n: rng.choice(SYNONYMS[n]) if n in SYNONYMS and rng.random() < 0.33 else n for n in names}
            if len(set(shown.values())) < len(shown):
                shown = {n: n for n in names}
            listed = [shown[n] for n in names]
            task = "labels"
            system, user = label_messages(prompt, row["text"], task, listed)
            pairs.append({"system": system.content, "input": user.content, "output": json.dumps(shown[gold], ensure_ascii=False)})
    rng.shuffle(pairs)
    return pairs


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


def _classify_file(ctx: SkillContext, path: Path, task: str, labels: list[str] | None) -> Iterator[str | Progress]:
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


def respond(ctx: SkillContext) -> Iterator[str | Progress]:
    task, labels, text = read_request(ctx.text)
    files = list(ctx.attachments) or mentioned_paths(ctx.text)
    if files:
        yield from _classify_file(ctx, ctx.tools.check_read(files[0]), task, labels)
        return
    if not text:
        yield "What should I classify? Write it after a colon, e.g. 'sentiment: the food was great'."
        return
    yield classify_one(ctx, text, task, labels)
