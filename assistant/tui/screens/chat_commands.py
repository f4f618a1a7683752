"""Slash commands and sidebar operations of the chat screen (a mixin, to keep files small)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.widgets import Input

from assistant.errors import AssistantError
from assistant.events import RouteInfo
from assistant.tui.messages import ConversationAction, ConversationSelected
from assistant.tui.screens.dialogs import ConfirmScreen, TextPromptScreen
from assistant.tui.screens.route import RouteScreen
from assistant.tui.screens.turns import Job
from assistant.tui.widgets.chat_message import AssistantMessage, NoteMessage, UserMessage
from assistant.tui.widgets.sidebar import Sidebar

if TYPE_CHECKING:
    from assistant.tui.screens.chat import ChatScreen

    _Base = ChatScreen
else:
    _Base = object


class ChatCommandsMixin(_Base):
    """``/command`` handlers and the conversation operations behind the sidebar."""

    async def run_command(self, name: str, args: list[str], rest: str) -> None:
        """Dispatch one parsed slash command; errors become notes in the chat."""
        handler = getattr(self, f"cmd_{name}")
        try:
            await handler(args, rest)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")

    async def _call(self, fn: Any, *args: Any, store: bool = False) -> Any:
        """Run a blocking call off the UI thread (store calls on the store's thread)."""
        runner = self.app.in_store_thread if store else self.app.in_thread
        return await runner(fn, *args)

    def _need_pipeline(self):
        if self.app.pipeline is None:
            raise AssistantError("the assistant is still starting", "wait a moment; your messages are queued")
        return self.app.pipeline

    def _need_store(self):
        if self.app.store is None:
            raise AssistantError("conversation history is not available", "the store could not be opened; see the first message")
        return self.app.store

    def _need_conversation(self) -> str:
        if self.conversation_id is None:
            raise AssistantError("this conversation is not stored yet", "send a message first")
        return self.conversation_id

    def _replies(self) -> list[AssistantMessage]:
        return list(self.log_view.query(AssistantMessage))

    def last_user_text(self) -> str | None:
        users = list(self.log_view.query(UserMessage))
        return users[-1].text if users else None

    # Simple commands ---------------------------------------------------------------------
    async def cmd_help(self, args: list[str], rest: str) -> None:
        self.action_help()

    async def cmd_quit(self, args: list[str], rest: str) -> None:
        await self.app.action_quit()

    async def cmd_new(self, args: list[str], rest: str) -> None:
        await self.new_conversation()

    async def cmd_clear(self, args: list[str], rest: str) -> None:
        await self.new_conversation()
        await self.add_note("Cleared. The previous conversation is still in the sidebar.")

    async def new_conversation(self) -> None:
        """Start afresh: empty log, no pinned skill; stored conversations are kept."""
        self.cancel_active()
        await self.log_view.remove_children()
        self.conversation_id = None
        self.pinned = None
        self.status_bar.show(pinned=None)
        self.prompt.focus()
        self.refresh_sidebar()

    async def cmd_copy(self, args: list[str], rest: str) -> None:
        replies = [r for r in self._replies() if r.text]
        if not replies:
            raise AssistantError("there is no reply to copy yet", "send a message first")
        replies[-1].action_copy()

    async def cmd_skill(self, args: list[str], rest: str) -> None:
        if len(args) != 1:
            raise AssistantError("usage: /skill SKILL", "see /skills for the names")
        await self._check_skill(args[0])
        self.pinned = args[0]
        self.status_bar.show(pinned=self.pinned)
        await self.add_note(f"Pinned skill '{self.pinned}' for this conversation; /auto routes again.")

    async def cmd_auto(self, args: list[str], rest: str) -> None:
        self.pinned = None
        self.status_bar.show(pinned=None)
        await self.add_note("Routing automatically again.")

    async def _check_skill(self, name: str) -> None:
        skills = await self._call(self._need_pipeline().skills)
        ok = [s.name for s in skills if s.status == "ok"]
        failed = {s.name: s.error for s in skills if s.status != "ok"}
        if name in failed:
            raise AssistantError(f"skill '{name}' is not available: {failed[name]}", "fix it or pick another: /skills")
        if name not in ok:
            raise AssistantError(f"unknown skill '{name}'", f"known skills: {', '.join(ok)}")

    async def cmd_skills(self, args: list[str], rest: str) -> None:
        skills = await self._call(self._need_pipeline().skills)
        lines = ["Skills:"]
        for s in skills:
            state = "" if s.status == "ok" else f"  [{s.status}: {s.error}]"
            lines.append(f"  {s.name:<12} {s.model or '-':<20} {s.description}{state}")
        await self.add_note("\n".join(lines))

    async def cmd_models(self, args: list[str], rest: str) -> None:
        states = await self._call(self._need_pipeline().components)
        lines = ["Models and components:"] + [f"  {s.name:<22} {s.state:<8} {s.detail}" for s in states]
        await self.add_note("\n".join(lines) if states else "No components reported.")
        self.status_bar.show(states=states)

    async def cmd_docs(self, args: list[str], rest: str) -> None:
        colls = await self._call(self._need_pipeline().documents)
        if not colls:
            await self.add_note("No document collections yet.",
                                "add a folder with `assistant docs add PATH`, then ask about it here")
            return
        lines = ["Document collections:"]
        for c in colls:
            when = (c.indexed_at or "never")[:16].replace("T", " ")
            files = f"{c.files} file" + ("" if c.files == 1 else "s")
            lines.append(f"  {c.name:<16} {c.state:<11} {files}, {c.chunks} passages, {c.embedded} embedded, "
                         f"indexed {when}  {c.root}" + (f"  ({c.note})" if c.note else ""))
        await self.add_note("\n".join(lines))

    # Routing -----------------------------------------------------------------------------
    async def cmd_why(self, args: list[str], rest: str) -> None:
        if rest:
            route = await self._call(self._need_pipeline().explain, self.conversation_id, rest)
            self.app.push_screen(RouteScreen(route, rest))
            return
        replies = self._replies()
        if replies:
            await self.show_trace(replies[-1])
            return
        text = self.last_user_text()
        if text is None:
            raise AssistantError("nothing to explain yet", "send a message, or type /why TEXT")
        route = await self._call(self._need_pipeline().explain, self.conversation_id, text)
        self.app.push_screen(RouteScreen(route, text))

    async def show_trace(self, reply: AssistantMessage) -> None:
        """Show the routing trace of ``reply`` (asking the pipeline when it was not streamed here)."""
        route: RouteInfo | None = reply.route
        if route is None:
            if not reply.user_text:
                await self.add_note("No routing trace for this reply.", kind="error")
                return
            try:
                route = await self._call(self._need_pipeline().explain, self.conversation_id, reply.user_text)
            except AssistantError as exc:
                await self.add_note(exc.message, exc.hint, "error")
                return
        self.app.push_screen(RouteScreen(route, reply.user_text, reply.model))

    async def cmd_route(self, args: list[str], rest: str) -> None:
        if len(args) != 1:
            raise AssistantError("usage: /route SKILL", "see /skills for the names")
        text = self.last_user_text()
        if text is None:
            raise AssistantError("there is no message to re-route", "send a message first")
        await self._check_skill(args[0])
        replies = self._replies()
        routed = replies[-1].skill if replies else None
        await self.add_note(f"Re-running the last message on '{args[0]}'.")
        self.queue.append(Job("regen", text, args[0], (), None, correction_from=routed or "?"))
        self._pump()

    def offer_correction(self, skill: str, text: str) -> None:
        """After /route: ask whether to keep the message as a routing example for ``skill``."""
        preview = text if len(text) <= 80 else text[:77] + "..."

        def answered(save: bool | None) -> None:
            if save:
                self._save_correction(skill, text)

        self.app.push_screen(ConfirmScreen(f"Save “{preview}” as a routing example for '{skill}'?", yes="Save"), answered)

    @work(exit_on_error=False, group="correction")
    async def _save_correction(self, skill: str, text: str) -> None:
        try:
            await self._call(self._need_pipeline().save_correction, skill, text)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")
            return
        await self.add_note(f"Saved as a routing example for '{skill}'.")

    async def cmd_regen(self, args: list[str], rest: str) -> None:
        if self.active is not None:
            raise AssistantError("a reply is still streaming", "wait for it, or press Esc to stop it")
        self._need_conversation()
        replies = self._replies()
        if not replies:
            raise AssistantError("there is no reply to regenerate", "send a message first")
        text = replies[-1].user_text
        await replies[-1].remove()
        self.queue.append(Job("regen", text))
        self._pump()

    # Attachments -------------------------------------------------------------------------
    async def cmd_file(self, args: list[str], rest: str) -> None:
        if not args:
            raise AssistantError("usage: /file PATH [TEXT]", "give the path of a file to hand to the skill")
        await self.attach(Path(args[0]))
        if len(args) > 1:
            await self.send(" ".join(args[1:]))

    async def attach(self, path: Path) -> None:
        """Attach a file to the next message (after checking it exists)."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise AssistantError(f"no such file: {path}", "check the path (relative paths start in the directory you ran assistant from)")
        self.pending_attachments.append(path.resolve())
        self._show_attachments()
        self.prompt.focus()

    # Conversations ---------------------------------------------------------------------
    async def cmd_export(self, args: list[str], rest: str) -> None:
        fmt = args[0] if args and args[0] in ("md", "json") else "md"
        target = args[1] if len(args) > 1 else (args[0] if args and args[0] not in ("md", "json") else None)
        await self.export(self._need_conversation(), fmt, Path(target) if target else None)

    async def export(self, conversation_id: str, fmt: str = "md", target: Path | None = None) -> Path:
        text = await self._call(self._need_store().export_conversation, conversation_id, fmt, store=True)
        if target is None:
            slug = re.sub(r"[^A-Za-z0-9_-]+", "-", conversation_id).strip("-") or "conversation"
            target = self.app.export_dir / f"conversation-{slug}.{fmt}"
        target = target.expanduser()
        try:
            await asyncio.to_thread(self._write, target, text)
        except OSError as exc:
            raise AssistantError(f"cannot write {target}: {exc.strerror}", "pick another path: /export md PATH") from None
        await self.add_note(f"Exported to {target}")
        return target

    @staticmethod
    def _write(target: Path, text: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    async def cmd_rename(self, args: list[str], rest: str) -> None:
        if not rest:
            raise AssistantError("usage: /rename TITLE", "type the new title after the command")
        await self._call(self._need_store().rename, self._need_conversation(), rest, store=True)
        self.refresh_sidebar()
        await self.add_note(f"Renamed to “{rest}”.")

    async def cmd_delete(self, args: list[str], rest: str) -> None:
        self.ask_delete(self._need_conversation(), "this conversation")

    def ask_delete(self, conversation_id: str, title: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(conversation_id)

        self.app.push_screen(ConfirmScreen(f"Delete “{title}” and all its messages? This cannot be undone.", yes="Delete"), answered)

    @work(exit_on_error=False, group="store-op")
    async def _delete(self, conversation_id: str) -> None:
        try:
            await self._call(self._need_store().delete, conversation_id, store=True)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")
            return
        if conversation_id == self.conversation_id:
            await self.new_conversation()
        self.refresh_sidebar()
        self.notify("Conversation deleted")

    # Sidebar -----------------------------------------------------------------------------
    @work(exit_on_error=False, group="sidebar", exclusive=True)
    async def refresh_sidebar(self, delay: float = 0.0) -> None:
        """Reload the sidebar: the search hits if a query is typed, else recent conversations."""
        if delay:
            await asyncio.sleep(delay)  # debounce typing in the search box
        store = self.app.store
        sidebar = self.query_one(Sidebar)
        if store is None or not sidebar.display:
            return
        query = self.query_one("#search", Input).value.strip()
        try:
            # A newer refresh cancels this worker while it waits for the store, never while it
            # swaps the rows: a remove or mount cut short leaves the list unable to process messages.
            if query:
                hits = await self._call(store.search, query, store=True)
                await asyncio.shield(sidebar.show_hits(hits, self.conversation_id))
            else:
                limit = self.app.tui_settings.conversations_shown
                items = await self._call(store.list_conversations, limit, store=True)
                await asyncio.shield(sidebar.show_conversations(items, self.conversation_id))
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")

    def on_input_changed(self, event: Input.Changed) -> None:
        # A naming-convention handler: @on() is only collected from Textual classes, not mixins.
        if event.input.id == "search":
            self.refresh_sidebar(0.15)

    async def on_conversation_selected(self, message: ConversationSelected) -> None:
        await self.open_conversation(message.conversation_id)

    async def open_conversation(self, conversation_id: str) -> None:
        """Show a stored conversation in the log and continue it."""
        if self.active is not None:
            await self.add_note("A reply is still streaming.", "wait for it, or press Esc to stop it", "error")
            return
        try:
            messages = await self._call(self._need_store().messages, conversation_id, store=True)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")
            return
        await self.log_view.remove_children()
        self.conversation_id, self.pinned = conversation_id, None
        self.status_bar.show(pinned=None)
        widgets, last_user = [], ""
        for m in messages:
            if m.role == "user":
                last_user = m.content
                widgets.append(UserMessage(m.content))
            elif m.role == "assistant":
                reply = AssistantMessage(m.content, skill=m.skill, model=m.model, status=m.status or "complete")
                reply.user_text = last_user
                widgets.append(reply)
        if not widgets:
            widgets.append(NoteMessage("This conversation has no messages yet."))
        await self.log_view.mount_all(widgets)
        self.log_view.scroll_end(animate=False)
        self.prompt.focus()

    async def on_conversation_action(self, message: ConversationAction) -> None:
        cid, title = message.conversation_id, message.title or message.conversation_id
        try:
            if message.action == "delete":
                self.ask_delete(cid, title)
            elif message.action == "export":
                await self.export(cid)
            elif message.action == "rename":
                self.app.push_screen(TextPromptScreen("New title:", title), lambda new: self._rename(cid, new))
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")

    @work(exit_on_error=False, group="store-op")
    async def _rename(self, conversation_id: str, title: str | None) -> None:
        if not title:
            return
        try:
            await self._call(self._need_store().rename, conversation_id, title, store=True)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")
            return
        self.refresh_sidebar()
