"""The chat screen: draws the log, prompt, sidebar and status, and runs turns in worker threads.

What the chat is doing lives in its :class:`~assistant.tui.session.ChatSession`, the slash
commands in :class:`~assistant.tui.screens.chat_commands.ChatCommands`, and the conversation
operations in the :class:`~assistant.tui.widgets.sidebar.Sidebar`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static, TextArea

from assistant.errors import AssistantError
from assistant.events import Progress, ReplyFailed, ReplyFinished, RouteDecided, TextDelta, TurnEvent
from assistant.tui import commands
from assistant.tui.host import TuiHost
from assistant.tui.messages import (
    BadgeSelected,
    ComponentsPolled,
    ConversationDeleted,
    ConversationSelected,
    FileDropped,
    NoteRequested,
    PromptSubmitted,
    ServicesReady,
    TurnEnded,
    TurnEventsArrived,
)
from assistant.tui.screens.chat_commands import ChatCommands
from assistant.tui.screens.route import RouteScreen
from assistant.tui.screens.turns import ActiveTurn, Batcher, Job
from assistant.tui.session import ChatSession
from assistant.tui.settings import DEFAULT_KEYS
from assistant.tui.widgets.chat_message import AssistantMessage, NoteMessage, UserMessage, plain
from assistant.tui.widgets.prompt import PromptInput
from assistant.tui.widgets.sidebar import Sidebar
from assistant.tui.widgets.status import StatusBar

W = TypeVar("W", bound=Widget)

WELCOME = "Type a message and press Enter (Ctrl+J for a new line). /help lists commands; F1 shows keys."
_LABELS = {
    "new_conversation": "New", "toggle_sidebar": "Sidebar", "search": "Search", "cancel": "Stop",
    "regenerate": "Regenerate", "why": "Why?", "copy_reply": "Copy", "help": "Help", "focus_input": "Input",
}
_SHOWN = {"new_conversation", "toggle_sidebar", "cancel", "regenerate", "why", "help"}


class ChatScreen(Screen[None]):
    """The main screen. Every rebindable key has a binding id ``assistant.<action>``."""

    CSS_PATH = "chat.tcss"
    BINDINGS = [
        Binding(DEFAULT_KEYS[name], name, _LABELS[name], show=name in _SHOWN, id=f"assistant.{name}", priority=name == "cancel")
        for name in DEFAULT_KEYS
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session = ChatSession()
        self.commands = ChatCommands(self)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Sidebar(id="sidebar")
            with Vertical(id="chat-pane"):
                with VerticalScroll(id="log"):
                    yield NoteMessage(WELCOME, kind="welcome")
                yield Static(id="attachments")
                yield Static(id="completions")
                yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sidebar").display = self.host.tui_settings.sidebar
        self.query_one("#attachments").display = False
        self.query_one("#completions").display = False
        self.query_one("#log").anchor()
        self.prompt.focus()

    @property
    def host(self) -> TuiHost:
        return cast(TuiHost, self.app)

    @property
    def sidebar(self) -> Sidebar:
        return self.query_one(Sidebar)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#log", VerticalScroll)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    async def add(self, widget: W) -> W:
        """Append an entry to the chat log and keep it in view."""
        await self.log_view.mount(widget)
        self.log_view.scroll_end(animate=False)
        return widget

    async def add_note(self, text: str, hint: str = "", kind: str = "info") -> None:
        await self.add(NoteMessage(text, hint, kind))

    async def on_note_requested(self, message: NoteRequested) -> None:
        await self.add_note(message.text, message.hint, message.kind)

    def replies(self) -> list[AssistantMessage]:
        return list(self.log_view.query(AssistantMessage))

    def users(self) -> list[UserMessage]:
        return list(self.log_view.query(UserMessage))

    def refresh_sidebar(self) -> None:
        self.sidebar.reload(self.session.conversation_id)

    # Services and status -----------------------------------------------------------------
    async def on_services_ready(self, message: ServicesReady) -> None:
        if message.error:
            self.status_bar.show(phase="not started")
            await self.add_note(message.error, message.hint, "error")
            return
        self.session.services_ready = True
        self.status_bar.show(phase="")
        self.refresh_sidebar()
        self.pump()

    def on_components_polled(self, message: ComponentsPolled) -> None:
        self.session.components_loading = any(s.state == "loading" for s in message.states)
        self.status_bar.show(states=message.states)
        self.pump()

    # Sending -----------------------------------------------------------------------------
    @on(PromptSubmitted)
    async def _submitted(self, message: PromptSubmitted) -> None:
        text = message.text
        if not text.strip() and not self.session.pending_attachments:
            return
        self.prompt.clear()
        try:
            parsed = commands.parse(text)
        except commands.CommandError as exc:
            await self.add_note(str(exc), "type /help for the list", "error")
            return
        if parsed is not None:
            await self.commands.run(*parsed)
            return
        if text.startswith("//"):
            text = text[1:]
        await self.send(text)

    async def send(self, text: str, attachments: tuple[Path, ...] = ()) -> None:
        """Show the user's message and queue it; it goes out as soon as the pipeline is free."""
        files = self.session.take_attachments(attachments)
        self._show_attachments()
        if not text.strip():
            text = "Summarize the attached file."
        widget = await self.add(UserMessage(text, files, queued=self.session.must_wait()))
        self.session.queue.append(Job("turn", text, self.session.pinned, files, widget))
        self.pump()
        self.status_bar.show(queued=len(self.session.queue))

    def pump(self) -> None:
        """Start the next queued job if nothing runs and the models are not loading."""
        turn = self.session.claim_next(AssistantMessage())
        if turn is None:
            return
        turn.reply.user_text = turn.job.text
        self.status_bar.show(queued=len(self.session.queue))
        self.run_worker(self._begin(turn), exit_on_error=False, group="start")

    async def _begin(self, turn: ActiveTurn) -> None:
        if isinstance(turn.job.user_widget, UserMessage):
            turn.job.user_widget.mark_sent()
        await self.add(turn.reply)
        self._turn_worker(turn, self.session.conversation_id)

    @work(thread=True, exit_on_error=False, group="turn")
    def _turn_worker(self, turn: ActiveTurn, conversation_id: str | None) -> None:
        pipeline = self.host.pipeline
        assert pipeline is not None
        def post(events: list[TurnEvent]) -> None:
            self.post_message(TurnEventsArrived(turn.turn_id, events))

        batcher = Batcher(post, self.host.tui_settings.flush_interval_ms / 1000)
        job = turn.job
        try:
            if job.kind == "regen":
                if conversation_id is None:
                    raise AssistantError("nothing to regenerate", "send a message first")
                events = pipeline.regenerate(conversation_id, cancel=turn.cancel, skill=job.skill)
            else:
                events = pipeline.run_turn(conversation_id, job.text, skill=job.skill, cancel=turn.cancel, attachments=job.attachments)
            for event in events:
                batcher.add(event)
            batcher.flush()
            self.post_message(TurnEnded(turn.turn_id))
        except AssistantError as exc:
            batcher.flush()
            self.post_message(TurnEnded(turn.turn_id, exc.message, exc.hint))
        except Exception as exc:  # noqa: BLE001 - a pipeline bug becomes a chat message, not a crash
            batcher.flush()
            self.post_message(TurnEnded(turn.turn_id, f"internal error: {type(exc).__name__}: {exc}", "this is a bug; please report it"))

    async def on_turn_events_arrived(self, message: TurnEventsArrived) -> None:
        turn = self.session.active
        if turn is None or not self.session.is_current(message.turn_id):
            return
        reply = turn.reply
        for event in message.events:
            if isinstance(event, RouteDecided):
                if event.conversation_id and event.conversation_id != self.session.conversation_id:
                    self.session.conversation_id = event.conversation_id
                    self.refresh_sidebar()
                reply.set_route(event)
            elif isinstance(event, TextDelta) and not turn.cancelled:
                await reply.write(event.text)
                self.log_view.scroll_end(animate=False)
            elif isinstance(event, Progress):
                pct = f" {event.fraction:.0%}" if event.fraction is not None else ""
                self.status_bar.show(phase=f"{event.message}{pct}")
            elif isinstance(event, ReplyFinished):
                turn.outcome = event
                await reply.finish("cancelled" if turn.cancelled else event.status, event.stats)
            elif isinstance(event, ReplyFailed):
                turn.outcome = event
                if event.partial and not reply.text:
                    await reply.write(event.partial)
                await reply.finish("error", error=event.error, hint=event.hint)

    async def on_turn_ended(self, message: TurnEnded) -> None:
        turn = self.session.active
        if turn is None or not self.session.is_current(message.turn_id):
            return
        reply = turn.reply
        if message.error:
            await reply.finish("error", error=message.error, hint=message.hint)
        elif turn.outcome is None:
            await reply.finish("cancelled" if turn.cancelled else "error", error="the reply ended without a result")
        self.session.active = None
        self.status_bar.show(phase="")
        self.refresh_sidebar()
        if (turn.job.correction_from and turn.job.correction_from != turn.job.skill
                and isinstance(turn.outcome, ReplyFinished) and not turn.cancelled):
            self.commands.offer_correction(turn.job.skill or "", turn.job.text)
        self.pump()

    def cancel_active(self) -> bool:
        """Stop the running generation at once; the partial reply stays, marked cancelled."""
        turn = self.session.cancel()
        if turn is None:
            return False
        self.run_worker(turn.reply.finish("cancelled"), exit_on_error=False, group="cancel")
        return True

    # Conversations -----------------------------------------------------------------------
    async def new_conversation(self) -> None:
        """Start afresh: empty log, no pinned skill; stored conversations are kept."""
        self.cancel_active()
        await self.log_view.remove_children()
        self.session.start_over()
        self.status_bar.show(pinned=None)
        self.prompt.focus()
        self.refresh_sidebar()

    async def on_conversation_selected(self, message: ConversationSelected) -> None:
        await self.open_conversation(message.conversation_id)

    async def on_conversation_deleted(self, message: ConversationDeleted) -> None:
        if message.conversation_id == self.session.conversation_id:
            await self.new_conversation()

    async def open_conversation(self, conversation_id: str) -> None:
        """Show a stored conversation in the log and continue it."""
        store = self.host.store
        if self.session.active is not None:
            await self.add_note("A reply is still streaming.", "wait for it, or press Esc to stop it", "error")
            return
        if store is None:
            await self.add_note("conversation history is not available", "the store could not be opened", "error")
            return
        try:
            messages = await self.host.in_store_thread(store.messages, conversation_id)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")
            return
        await self.log_view.remove_children()
        self.session.start_over(conversation_id)
        self.status_bar.show(pinned=None)
        widgets: list[Widget] = []
        last_user = ""
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

    async def attach(self, path: Path) -> None:
        """Attach a file to the next message (after checking it exists)."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise AssistantError(f"no such file: {path}",
                                 "check the path (relative paths start in the directory you ran assistant from)")
        self.session.pending_attachments.append(path.resolve())
        self._show_attachments()
        self.prompt.focus()

    async def show_trace(self, reply: AssistantMessage) -> None:
        """Show the routing trace of ``reply`` (asking the pipeline when it was not streamed here)."""
        route = reply.route
        if route is None:
            pipeline = self.host.pipeline
            if not reply.user_text or pipeline is None:
                await self.add_note("No routing trace for this reply.", kind="error")
                return
            try:
                route = await self.host.in_thread(pipeline.explain, self.session.conversation_id, reply.user_text)
            except AssistantError as exc:
                await self.add_note(exc.message, exc.hint, "error")
                return
        self.app.push_screen(RouteScreen(route, reply.user_text, reply.model))

    # Key actions -------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if not self.cancel_active():
            if self.query_one("#completions").display:
                self.query_one("#completions").display = False
            elif self.focused is not self.prompt:
                self.prompt.focus()

    def action_focus_input(self) -> None:
        self.prompt.focus()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        if sidebar.display:
            self.refresh_sidebar()
        else:
            self.prompt.focus()

    def action_search(self) -> None:
        sidebar = self.query_one("#sidebar")
        if not sidebar.display:
            sidebar.display = True
            self.refresh_sidebar()
        self.query_one("#search", Input).focus()

    async def action_new_conversation(self) -> None:
        await self.new_conversation()

    async def action_regenerate(self) -> None:
        await self.commands.run("regen", [], "")

    async def action_why(self) -> None:
        await self.commands.run("why", [], "")

    async def action_copy_reply(self) -> None:
        await self.commands.run("copy", [], "")

    def action_help(self) -> None:
        self.show_help()

    def show_help(self) -> None:
        from assistant.tui.screens.help import HelpScreen

        keys = [(b.key, b.description) for (_, b, _, _) in self.active_bindings.values() if b.id and b.id.startswith("assistant.")]
        self.app.push_screen(HelpScreen(sorted(set(keys))))

    async def run_command_line(self, line: str) -> None:
        """Run a slash command as if typed (for the command palette)."""
        parsed = commands.parse(line)
        if parsed is not None:
            await self.commands.run(*parsed)

    # Prompt helpers ----------------------------------------------------------------------
    @on(TextArea.Changed, "#prompt")
    def _prompt_changed(self) -> None:
        text = self.prompt.text
        matches = commands.complete(text) if text.startswith("/") and "\n" not in text else []
        box = self.query_one("#completions", Static)
        box.display = bool(matches)
        if matches:
            box.update(plain("\n".join(f"{c.usage:<22} {c.help}" for c in matches[:8])))

    async def on_file_dropped(self, message: FileDropped) -> None:
        try:
            await self.attach(message.path)
        except AssistantError as exc:
            await self.add_note(exc.message, exc.hint, "error")

    def _show_attachments(self) -> None:
        box = self.query_one("#attachments", Static)
        files = self.session.pending_attachments
        box.display = bool(files)
        box.update(plain("📎 " + "  ".join(str(p) for p in files) + "  (sent with your next message)"))

    async def on_badge_selected(self, message: BadgeSelected) -> None:
        await self.show_trace(message.reply)
