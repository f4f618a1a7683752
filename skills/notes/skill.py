"""Notes skill: remember, list, search, complete and forget notes and to-dos. No model.

Stored as one JSON file in the skill's scratch folder, written atomically (temporary file,
fsync, rename), so a crash mid-write never loses the notes already kept.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

from assistant.skills import SkillContext

STORE = "notes.json"


class Notes:
    """The notes file: ``{"next_id": n, "items": [{"id", "kind", "text", "done", "created"}]}``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STORE
        self.data: dict[str, Any] = {"next_id": 1, "items": []}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                # Keep the unreadable file for the user; start a new one beside it.
                self.path.replace(self.path.with_suffix(".corrupt.json"))

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.data["items"]

    def save(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".notes-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def add(self, kind: str, text: str, created: str) -> dict[str, Any]:
        item = {"id": self.data["next_id"], "kind": kind, "text": text, "done": False, "created": created}
        self.data["next_id"] += 1
        self.items.append(item)
        self.save()
        return item

    def find(self, query: str) -> list[dict[str, Any]]:
        """Items by number ("3", "#3") or whose text contains every word of ``query``."""
        q = query.strip().lstrip("#")
        if q.isdigit():
            return [i for i in self.items if i["id"] == int(q)]
        words = [w for w in re.findall(r"\w+", q.lower()) if w not in {"the", "a", "an", "about", "my", "note", "todo"}]
        return [i for i in self.items if words and all(w in i["text"].lower() for w in words)]

    def remove(self, ids: set[int]) -> None:
        self.data["items"] = [i for i in self.items if i["id"] not in ids]
        self.save()


def _line(item: dict[str, Any]) -> str:
    box = ("[x] " if item["done"] else "[ ] ") if item["kind"] == "todo" else ""
    return f"{item['id']}. {box}{item['text']}"


def _listing(items: list[dict[str, Any]], empty: str) -> str:
    return "\n".join(_line(i) for i in items) if items else empty


_ADD_TODO = re.compile(r"^(?:please\s+)?(?:add\s+(?:a\s+)?(?:to-?do|task)(?:\s+item)?|to-?do|task|remind me to|add to (?:my )?(?:to-?do|task) list)\s*:?\s+(.+)$", re.I)
_ADD_TODO2 = re.compile(r"^add\s+(.+?)\s+to\s+(?:my\s+)?(?:to-?do|task)s?(?:\s+list)?$", re.I)
_ADD_NOTE = re.compile(r"^(?:please\s+)?(?:remember(?: that)?|note(?: that)?|make a note(?: that)?|take a note|jot down|save (?:a )?note)\s*:?\s+(.+)$", re.I)
_LIST = re.compile(r"^(?:list|show|display|what are|read)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:my\s+)?(notes|to-?dos|tasks|everything|all)\b", re.I)
_SEARCH = re.compile(r"^(?:search|find|look up)\s+(?:in\s+)?(?:my\s+)?(?:notes|to-?dos)?\s*(?:for|about)?\s*(.+)$|^what did i (?:note|write) about\s+(.+)$", re.I)
_FORGET = re.compile(r"^(?:forget|delete|remove|erase)\s+(?:the\s+)?(?:note|to-?do|task)?\s*(?:about|number|#)?\s*(.+)$", re.I)
_DONE = re.compile(r"^(?:mark\s+(?:to-?do\s+|task\s+)?(.+?)\s+(?:as\s+)?done|done|complete|finish(?:ed)?|check off|tick off)\s*(?:to-?do|task)?\s*#?(.*)$", re.I)


def handle(text: str, notes: Notes, created: str, confirm) -> str:
    """One notes command; returns the reply."""
    t = text.strip().rstrip(".!?")
    if m := (_ADD_TODO2.match(t) or _ADD_TODO.match(t)):
        item = notes.add("todo", m[1].strip(), created)
        return f"Added to-do {item['id']}: {item['text']}"
    if m := _ADD_NOTE.match(t):
        item = notes.add("note", m[1].strip(), created)
        return f"Noted ({item['id']}): {item['text']}"
    if m := _LIST.match(t):
        kind = m[1].lower().replace("-", "")
        if kind.startswith(("todo", "task")):
            return _listing([i for i in notes.items if i["kind"] == "todo"], "You have no to-dos.")
        if kind == "notes":
            return _listing([i for i in notes.items if i["kind"] == "note"], "You have no notes.")
        return _listing(notes.items, "You have no notes or to-dos.")
    if m := _DONE.match(t):
        target = (m[1] or m[2] or "").strip()
        found = [i for i in notes.find(target) if i["kind"] == "todo"] if target else []
        if len(found) != 1:
            return _ambiguous(found, target, "mark done")
        found[0]["done"] = True
        notes.save()
        return f"Done: {_line(found[0])}"
    if m := _FORGET.match(t):
        target = m[1].strip()
        if re.fullmatch(r"(?:all|everything|all (?:my )?(?:notes|to-?dos))", target, re.I):
            if not notes.items:
                return "There is nothing to forget."
            if not confirm(f"Forget all {len(notes.items)} notes and to-dos?"):
                return "Kept everything (not confirmed)."
            notes.remove({i["id"] for i in notes.items})
            return "Forgot all notes and to-dos."
        found = notes.find(target)
        if len(found) != 1:
            return _ambiguous(found, target, "forget")
        notes.remove({found[0]["id"]})
        return f"Forgot: {found[0]['text']}"
    if m := _SEARCH.match(t):
        query = (m[1] or m[2] or "").strip()
        found = notes.find(query)
        return _listing(found, f"Nothing found for '{query}'.")
    return ("I keep notes and to-dos. Try: 'remember the wifi password is on the router', 'todo: buy milk', "
            "'list my notes', 'search notes for wifi', 'done 2', 'forget note 3'.")


def _ambiguous(found: list[dict[str, Any]], target: str, action: str) -> str:
    if not found:
        return f"No note matches '{target}'."
    return f"Several match '{target}'; say which number to {action}:\n" + _listing(found, "")


def respond(ctx: SkillContext) -> Iterator[str]:
    notes = Notes(ctx.scratch_dir())
    yield handle(ctx.text, notes, ctx.clock().isoformat(timespec="seconds"), ctx.confirm)
