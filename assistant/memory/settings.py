"""Conversation store configuration ([memory] in config.toml)."""

from __future__ import annotations

from pydantic import Field

from assistant.settings_base import Section


class MemorySettings(Section):
    """The SQLite store and how history is fitted to a model's window."""

    reply_reserve_tokens: int = Field(default=512, ge=16)
    kv_cache_entries: int = Field(default=4, ge=0, le=64)
