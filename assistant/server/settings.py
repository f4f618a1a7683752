"""Configuration of ``assistant serve`` ([server]) and of remote model servers ([remote]).

Both sections are optional: code reads them with :func:`server_settings` and
:func:`remote_settings`, which fall back to the defaults when the lead has not wired the
tables into :class:`~assistant.config.Settings` (or the user has not set them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from assistant.settings_base import Section

DEFAULT_KEY_ENV = "ASSISTANT_SERVE_API_KEY"


class ServerSettings(Section):
    """How ``assistant serve`` listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    api_key_env: str = DEFAULT_KEY_ENV
    max_pending: int = Field(default=32, ge=1, le=1024)
    max_body_bytes: int = Field(default=4 * 2**20, ge=1024)
    remembered_histories: int = Field(default=1000, ge=0)


class RemoteSettings(Section):
    """How the HTTP backend talks to OpenAI-compatible model servers."""

    connect_timeout_s: float = Field(default=5.0, gt=0, le=600)
    read_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=60)
    tokenizer: Literal["auto", "server", "tiktoken"] = "auto"
    tiktoken_margin: float = Field(default=1.1, ge=1.0, le=3.0)


def server_settings(settings: Any) -> ServerSettings:
    """The [server] section of ``settings``, or the defaults."""
    value = getattr(settings, "server", None)
    return value if isinstance(value, ServerSettings) else ServerSettings()


def remote_settings(settings: Any) -> RemoteSettings:
    """The [remote] section of ``settings``, or the defaults."""
    value = getattr(settings, "remote", None)
    return value if isinstance(value, RemoteSettings) else RemoteSettings()
