"""A tool as the tool-calling engine sees it: name, description, argument schema, read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the engine sees it (from an MCP server, its cache, a built-in :class:`Tool`, or
    a benchmark).

    Attributes:
        name: the tool's name (on its server, or as a skill declares it).
        description: what it does.
        input_schema: the JSON schema of its arguments.
        read_only: marked as changing nothing (MCP's ``readOnlyHint``); anything else is
            side-effecting.
    """

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    read_only: bool = False

    @classmethod
    def from_mcp(cls, tool: Any) -> "ToolSpec":
        hints = tool.annotations
        return cls(name=tool.name, description=(tool.description or tool.title or "").strip(),
                   input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
                   read_only=bool(hints is not None and hints.read_only_hint is True))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema,
                "read_only": self.read_only}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ToolSpec":
        return cls(name=str(data["name"]), description=str(data.get("description", "")),
                   input_schema=dict(data.get("input_schema") or {}), read_only=bool(data.get("read_only")))
