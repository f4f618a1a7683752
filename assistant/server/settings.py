"""Configuration of ``assistant serve`` ([server])."""

from __future__ import annotations

from pydantic import Field

from assistant.settings_base import Section

__all__ = ["DEFAULT_KEY_ENV", "ServerSettings"]

DEFAULT_KEY_ENV = "ASSISTANT_SERVE_API_KEY"


class ServerSettings(Section):
    """How ``assistant serve`` listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    api_key_env: str = DEFAULT_KEY_ENV
    max_pending: int = Field(default=32, ge=1, le=1024)
    max_body_bytes: int = Field(default=4 * 2**20, ge=1024)
    remembered_histories: int = Field(default=1000, ge=0)
