"""The chat screen: log, prompt, sidebar and status; runs turns in worker threads."""

from __future__ import annotations

import itertools
from collections import deque
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static, TextArea

from assistant.errors import AssistantError
from assistant.events import Progress, ReplyFailed, ReplyFinished, RouteDecided, TextDelta
from assistant.tui import commands
from assistant.tui.messages import (
    BadgeSelected,
    ComponentsPolled,
    FileDropped,
    PromptSubmitted,
    ServicesReady,
    TurnEnded,
    TurnEventsArrived,
)
from assistant.tui.screens.chat_commands import ChatCommandsMixin
from assistant.tui.screens.turns import ActiveTurn, Batcher, Job
from assistant.tui.settings import DEFAULT_KEYS
from assistant.tui.widgets.chat_message import AssistantMessage, NoteMessage, UserMessage, plain
from assistant.tui.widgets.prompt import PromptInput
from assistant.tui.widgets.sidebar import Sidebar
from assistant.tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from assistant.tui.app import AssistantApp

WELCOME = "Type a message and press Enter (Ctrl+J for a new line). /help lists commands; F1 shows keys."
_LABELS = {
    "new_conversation": "New", "toggle_sidebar": "Sidebar", "search": "Search", "cancel": "Stop",
    "regenerate": "Regenerate", "why": "Why?", "copy_reply": "Copy", "help": "Help", "focus_input": "Input",
}
_SHOWN = {"new_conversation", "toggle_sidebar", "cancel", "regenerate", "why", "help"}


class ChatScreen(ChatCommandsMixin, Screen[None]):
    """The main screen. Every rebindable key has a binding id ``assistant.<action>``."""

    CSS_PATH = "chat.tcss"
    BINDINGS = [
        Binding(DEFAULT_KEYS[name], name, _LABELS[name], show=name in _SHOWN, id=f"assistant.{name}", priority=name == "cancel")
        for name in DEFAULT_KEYS
    ]
    app: "AssistantApp"

    def __init__(self) -> None:
        super().__init__()
        self.conversation_id: str | None = None
        self.pinned: str | None = None
        self.pending_attachments: list = []
        self.queue: deque[Job] = deque()
        self.active: ActiveTurn | None = None
        self.services_ready = False
        self.components_loading = True
        self._turn_ids = itertools.count(1)

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
        self.query_one("#sidebar").display = self.app.tui_settings.sidebar
        self.query_one("#attachments").display = False
        self.query_one("#completions").display = False
        self.query_one("#log").anchor()
        self.prompt.focus()

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def log_view(self) -> VerticalScroll:
        return self.query_one("#log", VerticalScroll)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    async def add(self, widget: Widget) -> Widget:
        """Append an entry to the chat log and keep it in view."""
        await self.log_view.mount(widget)
        self.log_view.scroll_end(animate=False)
        return widget

    async def add_note(self, text: str, hint: str = "", kind: str = "info") -> None:
        await self.add(NoteMessage(text, hint, kind))

    # Services and status -----------------------------------------------------------------
    async def on_services_ready(self, message: ServicesReady) -> None:
        if message.error:
            self.status_bar.show(phase="not started")
            await self.add_note(message.error, message.hint, "error")
            return
        self.services_ready = True
        self.status_bar.show(phase="")
        self.refresh_sidebar()
        self._pump()

    def on_components_polled(self, message: ComponentsPolled) -> None:
        self.components_loading = any(s.state == "loading" for s in message.states)
        self.status_bar.show(states=message.states)
        self._pump()

    # Sending -----------------------------------------------------------------------------
    @on(PromptSubmitted)
    async def _submitted(self, message: PromptSubmitted) -> None:
        text = message.text
        if not text.strip() and not self.pending_attachments:
            return
        self.prompt.clear()
        try:
            parsed = commands.parse(text)
        except commands.CommandError as exc:
            await self.add_note(str(exc), "type /help for the list", "error")
            return
        if parsed is not None:
            await self.run_command(*parsed)
            return
        if text.startswith("//"):
            text = text[1:]
        await self.send(text)

    async def send(self, text: str, attachments: tuple = ()) -> None:
        """Show the user's message and queue it; it goes out as soon as the pipeline is free."""
        attachments = tuple(self.pending_attachments) + tuple(attachments)
        self.pending_attachments.clear()
        self._show_attachments()
        if not text.strip():
            text = "Summarize the attached file."
        queued = self._must_wait()
        widget = await self.add(UserMessage(text, attachments, queued=queued))
        self.queue.append(Job("turn", text, self.pinned, attachments, widget))
        self._pump()
        self.status_bar.show(queued=len(self.queue))

    def _must_wait(self) -> bool:
        return self.active is not None or not self.services_ready or self.components_loading or bool(self.queue)

    def _pump(self) -> None:
        """Start the next queued job if nothing runs and the models are not loading."""
        if self.active is not None or not self.queue or not self.services_ready or self.components_loading:
            return
        job = self.queue.popleft()
        reply = AssistantMessage()
        reply.user_text = job.text
        # Claimed here, synchronously, so two pumps can never start two generations.
        self.active = ActiveTurn(next(self._turn_ids), job, reply)
        self.status_bar.show(queued=len(self.queue))
        self.run_worker(self._begin(self.active), exit_on_error=False, group="start")

    async def _begin(self, turn: ActiveTurn) -> None:
        if isinstance(turn.job.user_widget, UserMessage):
            turn.job.user_widget.mark_sent()
        await self.add(turn.reply)  # type: ignore[arg-type]
        self._turn_worker(turn, self.conversation_id)

    @work(thread=True, exit_on_error=False, group="turn")
    def _turn_worker(self, turn: ActiveTurn, conversation_id: str | None) -> None:
        pipeline = self.app.pipeline
        assert pipeline is not None
        post = lambda events: self.post_message(TurnEventsArrived(turn.turn_id, events))  # noqa: E731
        batcher = Batcher(post, self.app.tui_settings.flush_interval_ms / 1000)
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
        turn = self.active
        if turn is None or message.turn_id != turn.turn_id:
            return
        reply: AssistantMessage = turn.reply  # type: ignore[assignment]
        for event in message.events:
            if isinstance(event, RouteDecided):
                if event.conversation_id and event.conversation_id != self.conversation_id:
                    self.conversation_id = event.conversation_id
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
        turn = self.active
        if turn is None or message.turn_id != turn.turn_id:
            return
        reply: AssistantMessage = turn.reply  # type: ignore[assignment]
        if message.error:
            await reply.finish("error", error=message.error, hint=message.hint)
        elif turn.outcome is None:
            await reply.finish("cancelled" if turn.cancelled else "error", error="the reply ended without a result")
        self.active = None
        self.status_bar.show(phase="")
        self.refresh_sidebar()
        if (turn.job.correction_from and turn.job.correction_from != turn.job.skill
                and isinstance(turn.outcome, ReplyFinished) and not turn.cancelled):
            self.offer_correction(turn.job.skill or "", turn.job.text)
        self._pump()

    def cancel_active(self) -> bool:
        """Stop the running generation at once; the partial reply stays, marked cancelled."""
        turn = self.active
        if turn is None or turn.cancelled:
            return False
        turn.cancelled = True
        turn.cancel.set()
        reply: AssistantMessage = turn.reply  # type: ignore[assignment]
        self.run_worker(reply.finish("cancelled"), exit_on_error=False, group="cancel")
        return True

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
        await self.run_command("regen", [], "")

    async def action_why(self) -> None:
        await self.run_command("why", [], "")

    async def action_copy_reply(self) -> None:
        await self.run_command("copy", [], "")

    def action_help(self) -> None:
        from assistant.tui.screens.help import HelpScreen

        keys = [(b.key, b.description) for (_, b, _, _) in self.active_bindings.values() if b.id and b.id.startswith("assistant.")]
        self.app.push_screen(HelpScreen(sorted(set(keys))))

    async def run_command_line(self, line: str) -> None:
        """Run a slash command as if typed (for the command palette)."""
        parsed = commands.parse(line)
        if parsed is not None:
            await self.run_command(*parsed)

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
        await self.attach(message.path)

    def _show_attachments(self) -> None:
        box = self.query_one("#attachments", Static)
        box.display = bool(self.pending_attachments)
        box.update(plain("📎 " + "  ".join(str(p) for p in self.pending_attachments) + "  (sent with your next message)"))

    async def on_badge_selected(self, message: BadgeSelected) -> None:
        await self.show_trace(message.reply)
