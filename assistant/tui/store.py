"""The conversation store as the chat app sees it.

The app needs only a handful of operations for its sidebar; the real SQLite store
(``assistant.memory``) is adapted to :class:`ConversationStore` where the app is built
(``assistant.cli.tui_cmd``). :class:`MemoryConversationStore` is the in-package stand-in used
by :class:`~assistant.tui.fake_pipeline.FakePipeline` and the tests.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Protocol, Sequence

from assistant.errors import StoreError

ExportFormat = Literal["md", "json"]


@dataclass(frozen=True)
class ConversationItem:
    """One row of the sidebar."""

    id: str
    title: str
    updated_at: Any  # datetime, ISO string or epoch seconds; shown via ``format_time``


@dataclass(frozen=True)
class SearchHit:
    """A message matching a search, with a short snippet around the match."""

    conversation_id: str
    snippet: str
    title: str = ""


@dataclass(frozen=True)
class StoredMessage:
    """A message of a stored conversation, as the chat log redraws it."""

    role: str
    content: str
    skill: str | None = None
    model: str | None = None
    status: str = "complete"


class ConversationStore(Protocol):
    """What the sidebar asks of the conversation store. Calls may block; the app makes
    every call from one dedicated thread, never from the UI thread."""

    def list_conversations(self, limit: int) -> Sequence[ConversationItem]:
        """Most recently updated first."""

    def search(self, query: str) -> Sequence[SearchHit]:
        """Full-text search over messages; best matches first."""

    def messages(self, conversation_id: str) -> Sequence[StoredMessage]:
        """The messages of one conversation, oldest first."""

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title."""

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages."""

    def export_conversation(self, conversation_id: str, fmt: ExportFormat) -> str:
        """The whole conversation as Markdown (``md``) or JSON (``json``) text."""


def format_time(value: Any) -> str:
    """A short local time for a sidebar row, whatever type the store used."""
    try:
        if isinstance(value, (int, float)):
            value = datetime.fromtimestamp(value, tz=timezone.utc)
        elif isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError, OSError):
        pass
    return str(value or "")


@dataclass
class _Conversation:
    id: str
    title: str
    updated_at: float
    messages: list[StoredMessage] = field(default_factory=list)


class MemoryConversationStore:
    """A thread-safe in-memory :class:`ConversationStore` (for the fake pipeline and tests).

    Args:
        clock: returns "now" in epoch seconds; tests pass a fixed clock for stable snapshots.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tick = itertools.count()
        self._items: dict[str, _Conversation] = {}

    def _now(self) -> float:
        # A strictly increasing tie-breaker keeps "newest first" stable with a fixed clock.
        return self._clock() + next(self._tick) * 1e-6

    def _get(self, conversation_id: str) -> _Conversation:
        try:
            return self._items[conversation_id]
        except KeyError:
            raise StoreError(f"no conversation '{conversation_id}'", "pick one from the sidebar") from None

    def create(self, title: str) -> str:
        """Start a conversation and return its id."""
        with self._lock:
            cid = f"c{next(self._ids)}"
            self._items[cid] = _Conversation(cid, title[:60] or "untitled", self._now())
            return cid

    def add_message(self, conversation_id: str, message: StoredMessage) -> str:
        """Append a message; returns its id."""
        with self._lock:
            conv = self._get(conversation_id)
            conv.messages.append(message)
            conv.updated_at = self._now()
            return f"{conversation_id}-m{len(conv.messages)}"

    def list_conversations(self, limit: int) -> list[ConversationItem]:
        with self._lock:
            rows = sorted(self._items.values(), key=lambda c: c.updated_at, reverse=True)
            return [ConversationItem(c.id, c.title, c.updated_at) for c in rows[:limit]]

    def search(self, query: str) -> list[SearchHit]:
        needle = query.strip().lower()
        if not needle:
            return []
        hits = []
        with self._lock:
            for conv in sorted(self._items.values(), key=lambda c: c.updated_at, reverse=True):
                for msg in conv.messages:
                    at = msg.content.lower().find(needle)
                    if at >= 0:
                        start = max(0, at - 20)
                        hits.append(SearchHit(conv.id, msg.content[start : at + len(needle) + 20], conv.title))
                        break
        return hits

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        with self._lock:
            return list(self._get(conversation_id).messages)

    def rename(self, conversation_id: str, title: str) -> None:
        if not title.strip():
            raise StoreError("a title cannot be empty", "type a title")
        with self._lock:
            self._get(conversation_id).title = title.strip()

    def delete(self, conversation_id: str) -> None:
        with self._lock:
            self._get(conversation_id)
            del self._items[conversation_id]

    def export_conversation(self, conversation_id: str, fmt: ExportFormat) -> str:
        with self._lock:
            conv = self._get(conversation_id)
            if fmt == "json":
                return json.dumps(
                    {"id": conv.id, "title": conv.title, "messages": [asdict(m) for m in conv.messages]},
                    indent=2,
                    ensure_ascii=False,
                )
            if fmt != "md":
                raise StoreError(f"unknown export format '{fmt}'", "use md or json")
            parts = [f"# {conv.title}\n"]
            for m in conv.messages:
                who = m.role if not m.skill else f"{m.role} ({m.skill})"
                parts.append(f"**{who}:**\n\n{m.content}\n")
            return "\n".join(parts)
