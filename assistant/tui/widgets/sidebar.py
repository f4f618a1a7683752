"""The conversations sidebar: recent conversations newest first, full-text search, and the
operations on a listed conversation (rename, delete, export).

It reads and writes the store itself (through the app's store thread) and tells the chat
screen what happened with messages: a conversation chosen, one deleted, a note to show.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Sequence, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, ListItem, ListView, Static

from assistant.errors import AssistantError
from assistant.memory.records import Conversation, SearchHit
from assistant.pipeline_api import ConversationStore
from assistant.tui.export import export_conversation
from assistant.tui.host import TuiHost
from assistant.tui.messages import ConversationAction, ConversationDeleted, ConversationSelected, NoteRequested
from assistant.tui.screens.dialogs import ConfirmScreen, TextPromptScreen
from assistant.tui.widgets.chat_message import plain


def format_time(value: Any) -> str:
    """A short time for a sidebar row (the store keeps ISO 8601 UTC; epoch seconds work too)."""
    try:
        if isinstance(value, (int, float)):
            value = datetime.fromtimestamp(value, tz=UTC)
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
    """Search box over a list of conversations, and what can be done to one of them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replacing = asyncio.Lock()
        self.current: str | None = None  # the conversation the chat shows (highlighted)

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search conversations", id="search")
        yield ConversationList(id="conversations")
        yield Static(plain("↵ open · r rename · d delete · e export"), classes="hint")

    @property
    def host(self) -> TuiHost:
        return cast(TuiHost, self.app)

    @property
    def rows(self) -> list[ConversationRow]:
        return [r for r in self.query_one(ConversationList).children if isinstance(r, ConversationRow)]

    def _store(self) -> ConversationStore:
        store = self.host.store
        if store is None:
            raise AssistantError("conversation history is not available",
                                 "the store could not be opened; see the first message")
        return store

    # Listing -------------------------------------------------------------------------------
    @work(exit_on_error=False, group="sidebar", exclusive=True)
    async def reload(self, current: str | None = None, delay: float = 0.0) -> None:
        """Reload the list: the search hits if a query is typed, else recent conversations."""
        if current is not None:
            self.current = current
        if delay:
            await asyncio.sleep(delay)  # debounce typing in the search box
        if self.host.store is None or not self.display:
            return
        query = self.query_one("#search", Input).value.strip()
        try:
            # A newer reload cancels this worker while it waits for the store, never while it
            # swaps the rows: a remove or mount cut short leaves the list unable to process messages.
            if query:
                hits = await self.host.in_store_thread(self._store().search, query)
                await asyncio.shield(self.show_hits(hits, self.current))
            else:
                limit = self.host.tui_settings.conversations_shown
                items = await self.host.in_store_thread(self._store().list_conversations, limit)
                await asyncio.shield(self.show_conversations(items, self.current))
        except AssistantError as exc:
            self.post_message(NoteRequested(exc.message, exc.hint, "error"))

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self.reload(delay=0.15)

    async def show_conversations(self, items: Sequence[Conversation], current: str | None) -> None:
        rows = [ConversationRow(i.id, i.title, format_time(i.updated_at)) for i in items]
        await self._replace(rows, current)

    async def show_hits(self, hits: Sequence[SearchHit], current: str | None) -> None:
        rows = [ConversationRow(h.conversation_id, h.title or h.conversation_id, " ".join(h.snippet.split())) for h in hits]
        await self._replace(rows, current)

    async def _replace(self, rows: list[ConversationRow], current: str | None) -> None:
        view = self.query_one(ConversationList)
        async with self._replacing:  # one swap at a time: the rows of two reloads never mix
            await view.clear()
            await view.extend(rows)
        ids = [r.conversation_id for r in rows]
        if current in ids:
            view.index = ids.index(current)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ConversationRow):
            self.post_message(ConversationSelected(event.item.conversation_id))

    # Operations ----------------------------------------------------------------------------
    async def on_conversation_action(self, message: ConversationAction) -> None:
        message.stop()
        cid, title = message.conversation_id, message.title or message.conversation_id
        if message.action == "delete":
            self.ask_delete(cid, title)
        elif message.action == "export":
            self.export(cid)
        elif message.action == "rename":
            def renamed(new: str | None) -> None:
                self.rename(cid, new)

            self.app.push_screen(TextPromptScreen("New title:", title), renamed)

    @work(exit_on_error=False, group="store-op")
    async def export(self, conversation_id: str, fmt: str = "md", target: Path | None = None) -> None:
        """Write the conversation to ``target`` (default: the export folder) and say where."""
        try:
            path = await export_conversation(self.host, self._store(), conversation_id, fmt, target)
        except AssistantError as exc:
            self.post_message(NoteRequested(exc.message, exc.hint, "error"))
            return
        self.post_message(NoteRequested(f"Exported to {path}"))

    @work(exit_on_error=False, group="store-op")
    async def rename(self, conversation_id: str, title: str | None, announce: bool = False) -> None:
        if not title:
            return
        try:
            await self.host.in_store_thread(self._store().rename, conversation_id, title)
        except AssistantError as exc:
            self.post_message(NoteRequested(exc.message, exc.hint, "error"))
            return
        self.reload()
        if announce:
            self.post_message(NoteRequested(f"Renamed to “{title}”."))

    def ask_delete(self, conversation_id: str, title: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(conversation_id)

        self.app.push_screen(ConfirmScreen(f"Delete “{title}” and all its messages? This cannot be undone.",
                                           yes="Delete"), answered)

    @work(exit_on_error=False, group="store-op")
    async def _delete(self, conversation_id: str) -> None:
        try:
            await self.host.in_store_thread(self._store().delete, conversation_id)
        except AssistantError as exc:
            self.post_message(NoteRequested(exc.message, exc.hint, "error"))
            return
        self.post_message(ConversationDeleted(conversation_id))
        self.reload()
        self.notify("Conversation deleted")
