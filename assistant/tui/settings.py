"""Terminal UI configuration ([tui] in config.toml)."""

from __future__ import annotations

from pydantic import Field

from assistant.settings_base import Section


class TuiSettings(Section):
    """Key bindings and display options for the chat app."""

    keys: dict[str, str] = Field(default_factory=dict)
