"""Skill eval sets: JSON Lines of inputs with expected outputs or checks, and running them.

One item per line::

    {"input": "...", "expected": "...", "check": "exact" | "contains" | "label" | "json"}
    {"input": "...", "keywords": ["...", "..."]}

Optional keys: ``now`` (ISO time for the skill's clock), ``settings`` (the skill's settings),
``files`` (``{name: content}`` written to a temporary folder and attached), ``memory`` (earlier
conversations, ``[{"title": ..., "messages": [{"role": ..., "content": ...}, ...]}, ...]``, stored
in a fresh in-memory database that a skill with the ``recall`` tool searches; without it such a
skill searches an empty one), and ``replies`` (scripted model replies, used when an eval runs on
the fake backend to test skill logic). The ``assistant eval`` command scores the same files on
real models; a skill with code of its own is run through that code, as in a chat turn.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

from assistant.errors import SkillError

CHECKS = ("exact", "contains", "label", "json", "keywords", "similarity")


@dataclass(frozen=True)
class EvalItem:
    """One eval case and where it came from."""

    data: dict[str, Any]
    line: int

    @property
    def input(self) -> str:
        return str(self.data["input"])

    @property
    def check(self) -> str:
        if "check" in self.data:
            return str(self.data["check"])
        if "keywords" in self.data and "expected" not in self.data:
            return "keywords"
        return "json" if isinstance(self.data.get("expected"), dict) else "exact"


def load_eval(path: Path) -> list[EvalItem]:
    """Parse an eval file.

    Raises:
        SkillError: naming the file and line of the first problem.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillError(f"cannot read eval set {path}: {exc}", "check the file") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise SkillError(f"{path}:{number}: not valid JSON: {exc}", "one JSON object per line") from None
        problem = _problem(data)
        if problem:
            raise SkillError(f"{path}:{number}: {problem}", "see assistant/skills/evals.py for the format")
        items.append(EvalItem(data, number))
    if not items:
        raise SkillError(f"{path}: the eval set is empty", "add at least one case")
    return items


def _problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "each line must be a JSON object"
    if not isinstance(data.get("input"), str) or not data["input"].strip():
        return "'input' must be a non-empty string"
    if "expected" not in data and "keywords" not in data:
        return "give 'expected' or 'keywords'"
    if "check" in data and data["check"] not in CHECKS:
        return f"'check' must be one of {', '.join(CHECKS)}"
    if "now" in data:
        try:
            datetime.fromisoformat(data["now"])
        except (TypeError, ValueError):
            return "'now' must be an ISO date-time"
    if "memory" in data:
        return _memory_problem(data["memory"])
    return None


def _memory_problem(memory: Any) -> str | None:
    if not isinstance(memory, list):
        return "'memory' must be a list of conversations"
    for conversation in memory:
        if not isinstance(conversation, dict) or not isinstance(conversation.get("messages"), list):
            return "each 'memory' conversation needs 'messages' (a list)"
        for message in conversation["messages"]:
            if (not isinstance(message, dict) or message.get("role") not in ("user", "assistant")
                    or not isinstance(message.get("content"), str)):
                return "each 'memory' message needs 'role' (user or assistant) and 'content' (text)"
    return None


@contextmanager
def item_recall(skill: Any, item: EvalItem) -> Iterator[dict[str, Any]]:
    """The ``recall`` context field for ``item``: a search over its ``memory`` conversations,
    in a fresh in-memory database, for a skill that declares the ``recall`` tool ({} otherwise).

    The messages are stored at the item's ``now`` (or the present), so "last week" reaches them.
    """
    manifest = getattr(skill, "manifest", None)
    if manifest is None or "recall" not in manifest.tools:
        yield {}
        return
    from assistant.memory.recall import Recall
    from assistant.memory.store import Store, now_iso

    moment = item.data.get("now")
    stamp = datetime.fromisoformat(moment).astimezone(UTC).isoformat(timespec="microseconds") if moment else None
    store = Store.memory(clock=(lambda: stamp or now_iso()))
    try:
        for conversation in item.data.get("memory") or []:
            cid = store.create_conversation(conversation.get("title"))
            for message in conversation["messages"]:
                store.add_message(cid, message["role"], message["content"])
        yield {"recall": Recall(store).for_conversation(None)}
    finally:
        store.close()


def passes(item: EvalItem, output: str) -> tuple[bool, str]:
    """Whether ``output`` satisfies the item, and a short reason when it does not.

    Scored by :func:`assistant.tuning.checks.score_item`, the scorer ``assistant tune`` uses, so
    a skill's eval and its tuning runs agree on what counts as right.
    """
    from assistant.tuning.checks import score_item

    score = score_item(output, {**item.data, "check": item.check}, None)
    return score.passed, score.detail or f"score {score.score:.2f}"


def run_items(registry: Any, skill: Any, items: list[EvalItem], models: Any = None) -> list[tuple[EvalItem, str, bool, str]]:
    """Each item through ``skill``'s own handler (see :func:`answer_item`), scored with its check.

    Returns (item, output, passed, reason) per item; a skill error counts as a failed item.
    """
    from assistant.errors import AssistantError

    out = []
    for item in items:
        try:
            output = answer_item(registry, skill, item, models)
        except AssistantError as exc:
            out.append((item, "", False, exc.message))
            continue
        ok, why = passes(item, output)
        out.append((item, output, ok, "" if ok else why))
    return out


def answer_item(registry: Any, skill: Any, item: EvalItem, models: Any = None,
                candidate: tuple[str, Path | None] | None = None) -> str:
    """``skill``'s reply to ``item`` through its own handler, as in a chat turn.

    ``candidate`` (model, adapter or None) replaces the skill's own model and adapter.

    Every item starts from an empty scratch folder of its own (so items never see each other's
    state, and an eval never touches the user's notes, files or conversations); the item's
    ``files`` are attached from there, and its ``before`` messages run first in that folder.

    Raises:
        AssistantError: the skill refused or failed.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as folder:
        attachments = []
        for name, content in (item.data.get("files") or {}).items():
            path = Path(folder) / Path(name).name
            path.write_text(str(content), encoding="utf-8")
            attachments.append(path)
        for earlier in item.data.get("before") or []:
            _answer(registry, skill, models, item, str(earlier), [], Path(folder), candidate)
        return _answer(registry, skill, models, item, item.input, attachments, Path(folder), candidate)


def _answer(registry: Any, skill: Any, models: Any, item: EvalItem, text: str, attachments: list[Path],
            folder: Path, candidate: tuple[str, Path | None] | None = None) -> str:
    """``skill``'s reply to ``text`` with ``item``'s clock and settings, its scratch in ``folder``."""
    extra: dict[str, Any] = {}
    if "now" in item.data:
        moment = datetime.fromisoformat(item.data["now"])
        extra["clock"] = lambda: moment
    with item_recall(skill, item) as recall:
        ctx = registry.context(skill, text=text, attachments=attachments, models=models, **extra, **recall)
        ctx.scratch = folder / "scratch"
        if candidate is not None:
            ctx.model, ctx.adapter = candidate
        if item.data.get("settings"):
            ctx.settings = {**ctx.settings, **item.data["settings"]}
        return "".join(p for p in registry.run(skill, ctx) if isinstance(p, str))
