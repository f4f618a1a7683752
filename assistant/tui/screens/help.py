"""The help screen: every key binding and slash command."""

from __future__ import annotations

from typing import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from assistant.tui.commands import COMMANDS
from assistant.tui.widgets.chat_message import plain


def help_text(keys: Sequence[tuple[str, str]]) -> str:
    """The help as plain text: keys (from the live bindings), prompt keys, then commands."""
    width = max([len(k) for k, _ in keys] + [24])
    lines = ["Keys"]
    lines += [f"  {key:<{width}}  {what}" for key, what in keys]
    lines += [
        f"  {'enter':<{width}}  send the message",
        f"  {'ctrl+j / shift+enter':<{width}}  new line in the message (alt+enter too)",
        f"  {'tab / right':<{width}}  complete a slash command",
        f"  {'ctrl+p':<{width}}  command palette",
        f"  {'ctrl+q':<{width}}  quit",
        f"  {'on a reply: enter / c':<{width}}  routing trace / copy the reply",
        "",
        "Commands",
    ]
    usage = max(len(c.usage) for c in COMMANDS)
    lines += [f"  {c.usage:<{usage}}  {c.help}" for c in COMMANDS]
    lines += ["", "Keys can be changed in config.toml under [tui.keys]."]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Keys and commands; Escape, q or F1 closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="help"):
            yield Static(plain(help_text(self.keys)), id="help-text")
