"""MCP configuration ([mcp] and [mcp.servers.NAME] in the user config)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from assistant.settings_base import Section

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


class McpServerSettings(Section):
    """One MCP server: a command to start (stdio) or a URL (streamable HTTP).

    The child process sees only the SDK's safe variables (PATH, HOME, USER, LOGNAME, SHELL,
    TERM) plus ``env``; nothing else of the parent's environment.
    """

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    description: str = ""
    examples: list[str] = Field(default_factory=list)  # extra routing examples for this server
    allow: list[str] = Field(default_factory=list)  # side-effecting tools that run without asking
    defaults: dict[str, Any] = Field(default_factory=dict)  # argument values used when the user gives none
    call_timeout_s: float | None = Field(default=None, gt=0, le=3600)
    summarize: bool | None = None  # a sentence from the model above the result (None: [mcp] summarize)

    @model_validator(mode="after")
    def _one_transport(self) -> "McpServerSettings":
        if bool(self.command) == bool(self.url):
            raise ValueError("give exactly one of command (a stdio server) or url (streamable HTTP)")
        if self.url and not re.match(r"https?://", self.url):
            raise ValueError("url must start with http:// or https://")
        return self


class McpSettings(Section):
    """MCP servers and how their tools are called."""

    servers: dict[str, McpServerSettings] = Field(default_factory=dict)  # none by default: offline
    start_timeout_s: float = Field(default=20.0, gt=0, le=600)
    call_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    max_candidates: int = Field(default=3, ge=1, le=20)  # tools the model chooses among
    max_output_chars: int = Field(default=4000, ge=200, le=1_000_000)  # longer results are truncated
    # After a call, the model answers the request in a sentence or two from the result, shown
    # above it (one more generation; the result is still shown in full and never starts a call).
    summarize: bool = False

    @field_validator("servers")
    @classmethod
    def _names(cls, value: dict[str, McpServerSettings]) -> dict[str, McpServerSettings]:
        bad = [n for n in value if not _NAME.fullmatch(n)]
        if bad:
            raise ValueError(f"server names may use lower-case letters, digits, '-', '_': {bad}")
        return value
