"""Conversation store configuration ([memory] in config.toml)."""

from __future__ import annotations

from pydantic import Field

from assistant.settings_base import Section


class MemorySettings(Section):
    """The SQLite store, how history is fitted to a model's window, the rolling summary and
    recall over past conversations."""

    reply_reserve_tokens: int = Field(default=512, ge=16)
    kv_cache_entries: int = Field(default=4, ge=0, le=64)
    # Rolling summary of the turns that no longer fit a model's window.
    summary_enabled: bool = True
    summary_model: str | None = None  # a catalog name; None: the configured default model
    summary_max_tokens: int = Field(default=200, ge=16, le=2048)
    summary_min_messages: int = Field(default=4, ge=1, le=200)  # new dropped messages before an update
    summary_headroom: float = Field(default=0.5, ge=0.0, le=0.9)  # share of the window freed per update
    # Recall over past conversations (the recall skill).
    recall_embed_batch: int = Field(default=64, ge=1, le=1024)
    recall_max_embed_per_query: int = Field(default=512, ge=0, le=100_000)
    recall_min_similarity: float | None = Field(default=None, ge=-1.0, le=1.0)
