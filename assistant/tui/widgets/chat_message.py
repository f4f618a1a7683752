"""The three kinds of entries in the chat log: the user's messages, replies, and notes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.widgets.markdown import MarkdownStream

from assistant.events import RouteDecided
from assistant.router.types import RouteChoice
from assistant.tui.messages import BadgeSelected
from assistant.tui.widgets.text import safe_text


def plain(text: str) -> Content:
    """Content that shows ``text`` literally (no markup parsing, controls made visible)."""
    return Content(safe_text(text))


def adapter_label(adapter: str) -> str:
    """An adapter as the badge names it: its file name without the folder or ``.lora.gguf``."""
    name = adapter.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".lora.gguf", ".gguf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class UserMessage(Static):
    """What the user sent, shown literally; marked while it waits in the queue."""

    def __init__(self, text: str, attachments: tuple[Path, ...] = (), queued: bool = False) -> None:
        self.text = text
        self.attachments = attachments
        body = text + "".join(f"\n📎 {p}" for p in attachments)
        super().__init__(plain(body), classes="queued" if queued else "")

    def mark_sent(self) -> None:
        self.remove_class("queued")


class NoteMessage(Static):
    """An informational or error note from the app itself (never a traceback)."""

    def __init__(self, text: str, hint: str = "", kind: str = "info") -> None:
        self.text = text
        self.hint = hint
        body = text + (f"\nhint: {hint}" if hint else "")
        super().__init__(plain(body), classes=kind)


class Badge(Static):
    """skill · model(+adapter) · route score · tokens/s; click (or Enter on the reply) for the trace."""

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(BadgeSelected(self.parent))


class AssistantMessage(Vertical, can_focus=True):
    """A reply: a badge, the Markdown body (streamed), and its status when not complete.

    Args:
        text: initial text (for replies loaded from the store).
        skill, model, status: what the store knows about a stored reply.
    """

    BINDINGS = [
        Binding("enter,w", "why", "Why this skill", show=False),
        Binding("c", "copy", "Copy reply", show=False),
    ]

    def __init__(self, text: str = "", *, skill: str | None = None, model: str | None = None, status: str = "streaming") -> None:
        super().__init__()
        self.text = text
        self.skill = skill
        self.model = model
        self.adapter: str | None = None
        self.route: RouteChoice | None = None
        self.status = status
        self.stats: dict[str, Any] = {}
        self.user_text = ""
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        # Imported here: Markdown (markdown-it, highlighting) costs ~0.2 s, not needed for first paint.
        from textual.widgets import Markdown

        yield Badge(self._badge_content(), classes="badge")
        yield Markdown(safe_text(self.text), classes="body")
        yield Static(self._status_content(), classes="status")

    def on_mount(self) -> None:
        self._refresh_status()

    # Streaming -------------------------------------------------------------------------
    def set_route(self, event: RouteDecided) -> None:
        self.route, self.skill, self.model, self.adapter = event.route, event.route.skill, event.model, event.adapter
        self.query_one(Badge).update(self._badge_content())

    async def write(self, text: str) -> None:
        """Append streamed text; MarkdownStream merges fragments while the widget catches up."""
        if not text:
            return
        self.text += text
        if self._stream is None:
            from textual.widgets import Markdown

            self._stream = Markdown.get_stream(self.query_one(Markdown))
        await self._stream.write(safe_text(text))

    async def finish(self, status: str, stats: dict[str, Any] | None = None, error: str = "", hint: str = "") -> None:
        """End the stream and show how the reply ended."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.status = status
        self.stats = dict(stats or {})
        if error:
            self.stats["error"], self.stats["hint"] = error, hint
        self.query_one(Badge).update(self._badge_content())
        self._refresh_status()

    # Display ---------------------------------------------------------------------------
    def badge_text(self) -> str:
        parts = [self.skill or "…"]
        if self.model:
            parts.append(self.model + (f"+{adapter_label(self.adapter)}" if self.adapter else ""))
        if self.route is not None:
            parts.append("pinned" if self.route.forced else (f"route {self.route.score:.2f}" if self.route.score is not None else "routed"))
        rate = self.stats.get("tokens_per_s")
        if isinstance(rate, (int, float)):
            parts.append(f"{rate:.1f} tok/s")
        return " · ".join(parts)

    def _badge_content(self) -> Content:
        return plain(self.badge_text())

    def _status_content(self) -> Content:
        if self.status == "cancelled":
            return plain("⏹ cancelled")
        if self.status == "error":
            hint = self.stats.get("hint", "")
            return plain(f"⚠ {self.stats.get('error', 'failed')}" + (f"\nhint: {hint}" if hint else ""))
        return plain("")

    def _refresh_status(self) -> None:
        status = self.query_one(".status", Static)
        status.update(self._status_content())
        status.display = self.status in ("cancelled", "error")
        self.set_class(self.status == "cancelled", "cancelled")
        self.set_class(self.status == "error", "error")
        self.set_class(self.status == "streaming", "streaming")

    # Actions ---------------------------------------------------------------------------
    def action_why(self) -> None:
        self.post_message(BadgeSelected(self))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.app.notify("Reply copied to the clipboard")
