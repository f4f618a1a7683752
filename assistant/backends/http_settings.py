"""Configuration of the HTTP backend ([remote]): how it talks to OpenAI-compatible servers.

A leaf module (it imports only the section base), so :mod:`assistant.config` can hold it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from assistant.settings_base import Section


class RemoteSettings(Section):
    """Timeouts, retries and token counting for models with ``source = "http"``."""

    connect_timeout_s: float = Field(default=5.0, gt=0, le=600)
    read_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    tokenizer: Literal["auto", "server", "tiktoken"] = "auto"
    tiktoken_margin: float = Field(default=1.1, ge=1.0, le=3.0)
