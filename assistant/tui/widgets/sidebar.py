"""The conversations sidebar: recent conversations newest first, and full-text search."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, ListItem, ListView, Static

from assistant.tui.messages import ConversationAction, ConversationSelected
from assistant.memory.records import Conversation, SearchHit
from assistant.tui.widgets.chat_message import plain


def format_time(value: Any) -> str:
    """A short time for a sidebar row (the store keeps ISO 8601 UTC; epoch seconds work too)."""
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


class ConversationRow(ListItem):
    """One conversation (or one search hit) in the list."""

    def __init__(self, conversation_id: str, title: str, detail: str) -> None:
        super().__init__(Label(plain(title or "untitled"), classes="title"), Label(plain(detail), classes="detail"))
        self.conversation_id = conversation_id
        self.title = title


class ConversationList(ListView):
    """The list; r renames, d or Delete deletes (after confirmation), e exports."""

    BINDINGS = [
        Binding("r", "act('rename')", "Rename"),
        Binding("d,delete", "act('delete')", "Delete"),
        Binding("e", "act('export')", "Export"),
    ]

    def action_act(self, action: str) -> None:
        row = self.highlighted_child
        if isinstance(row, ConversationRow):
            self.post_message(ConversationAction(action, row.conversation_id, row.title))


class Sidebar(Vertical):
    """Search box over a list of conversations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replacing = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search conversations", id="search")
        yield ConversationList(id="conversations")
        yield Static(plain("↵ open · r rename · d delete · e export"), classes="hint")

    @property
    def rows(self) -> list[ConversationRow]:
        return [r for r in self.query_one(ConversationList).children if isinstance(r, ConversationRow)]

    async def show_conversations(self, items: Sequence[Conversation], current: str | None) -> None:
        rows = [ConversationRow(i.id, i.title, format_time(i.updated_at)) for i in items]
        await self._replace(rows, current)

    async def show_hits(self, hits: Sequence[SearchHit], current: str | None) -> None:
        rows = [ConversationRow(h.conversation_id, h.title or h.conversation_id, " ".join(h.snippet.split())) for h in hits]
        await self._replace(rows, current)

    async def _replace(self, rows: list[ConversationRow], current: str | None) -> None:
        view = self.query_one(ConversationList)
        async with self._replacing:  # one swap at a time: the rows of two refreshes never mix
            await view.clear()
            await view.extend(rows)
        ids = [r.conversation_id for r in rows]
        if current in ids:
            view.index = ids.index(current)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ConversationRow):
            self.post_message(ConversationSelected(event.item.conversation_id))
