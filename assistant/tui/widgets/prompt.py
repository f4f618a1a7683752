"""The multiline prompt: Enter sends, Ctrl+J / Shift+Enter / Alt+Enter insert a newline."""

from __future__ import annotations

import shlex
from pathlib import Path

from textual import events
from textual.widgets import TextArea

from assistant.tui import commands
from assistant.tui.messages import FileDropped, PromptSubmitted

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})


def dropped_path(text: str) -> Path | None:
    """The file a paste names, if the paste is exactly one existing file path.

    Terminals "drop" a file by pasting its path, sometimes quoted or with escaped spaces.
    """
    candidate = text.strip()
    if not candidate or "\n" in candidate or len(candidate) > 4096:
        return None
    try:
        parts = shlex.split(candidate)
    except ValueError:
        return None
    if len(parts) != 1:
        return None
    raw = parts[0].removeprefix("file://")
    try:
        path = Path(raw).expanduser()
        return path if path.is_file() else None
    except (OSError, ValueError):
        return None


class PromptInput(TextArea):
    """A TextArea that submits on Enter and completes slash commands (Right or Tab accepts)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(PromptSubmitted(self.text))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        if event.key == "tab" and self.suggestion:
            event.stop()
            event.prevent_default()
            self.insert(self.suggestion)
        # Anything else falls through to TextArea._on_key: Textual calls each class's
        # handler along the MRO unless prevent_default() was called, so no super() here.

    def update_suggestion(self) -> None:
        matches = commands.complete(self.text) if self.text.startswith("/") else []
        first = matches[0].name if matches else ""
        self.suggestion = ("/" + first)[len(self.text) :] if matches and self.text != "/" + first else ""

    async def _on_paste(self, event: events.Paste) -> None:
        # A pasted path to an existing file is a drag-and-drop: attach it instead of typing it.
        path = dropped_path(event.text) if not self.text.strip() else None
        if path is not None:
            event.stop()
            event.prevent_default()
            self.post_message(FileDropped(path))
        # Otherwise TextArea._on_paste runs next (MRO dispatch), inserting the text.
