"""Terminal UI configuration ([tui] in config.toml)."""

from __future__ import annotations

from pydantic import Field, field_validator

from assistant.settings_base import Section

# Every rebindable action of the chat app and its default key. The names are what
# [tui.keys] accepts; the keys use Textual's spelling ("ctrl+n", "f1", "escape").
DEFAULT_KEYS: dict[str, str] = {
    "new_conversation": "ctrl+n",
    "toggle_sidebar": "ctrl+b",
    "search": "ctrl+f",
    "cancel": "escape",
    "regenerate": "ctrl+r",
    "why": "f2",
    "copy_reply": "ctrl+o",
    "help": "f1",
    "focus_input": "ctrl+l",
}


class TuiSettings(Section):
    """Key bindings and display options for the chat app.

    Attributes:
        keys: action name -> key, overriding :data:`DEFAULT_KEYS` (e.g. ``help = "f10"``).
            Several keys may be given comma-separated (``"ctrl+n,f9"``).
        sidebar: open the conversations sidebar at start.
        flush_interval_ms: how often streamed text is handed to the screen; Textual's
            Markdown falls behind at about 20 appends a second, so replies are batched.
        status_interval_s: how often the status bar asks the pipeline for model states.
        conversations_shown: how many recent conversations the sidebar lists.
    """

    keys: dict[str, str] = Field(default_factory=dict)
    sidebar: bool = True
    flush_interval_ms: int = Field(default=60, ge=10, le=1000)
    status_interval_s: float = Field(default=0.5, ge=0.1, le=10.0)
    conversations_shown: int = Field(default=100, ge=1, le=10000)

    @field_validator("keys")
    @classmethod
    def _known_actions(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DEFAULT_KEYS))
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; known: {sorted(DEFAULT_KEYS)}")
        empty = sorted(name for name, key in value.items() if not key.strip())
        if empty:
            raise ValueError(f"empty key for {empty}")
        return value

    def key_for(self, action: str) -> str:
        """The key (or comma-separated keys) bound to ``action``."""
        return self.keys.get(action, DEFAULT_KEYS[action])
