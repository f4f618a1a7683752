"""Importing a Claude-Desktop-style ``{"mcpServers": {...}}`` file into the user config.

Each server becomes a ``[mcp.servers.NAME]`` table appended to the user's config.toml. A name
already configured is skipped (never overwritten), and every entry is validated before
anything is written, so a bad file changes nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assistant.errors import ConfigError
from assistant.mcp.settings import McpServerSettings

_KEYS = {"command", "args", "env", "cwd", "url", "headers", "enabled"}


def server_name(raw: str) -> str:
    """A config-safe server name: lower case, other characters as ``-``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", raw.strip().lower()).strip("-_")
    return name or "server"


def parse_servers(data: Any, source: str) -> dict[str, McpServerSettings]:
    """The servers of an ``mcpServers`` document, validated.

    Raises:
        ConfigError: the document is not of that shape, or a server entry is invalid.
    """
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f"{source} has no \"mcpServers\" object", 'expected {"mcpServers": {"name": {...}}}')
    out: dict[str, McpServerSettings] = {}
    for raw, entry in servers.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: server '{raw}' is not an object", "")
        if "disabled" in entry:
            entry = {**entry, "enabled": not entry["disabled"]}
        picked = {k: v for k, v in entry.items() if k in _KEYS}
        try:
            out[server_name(raw)] = McpServerSettings(**picked)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or raw}: {e['msg']}" for e in exc.errors()[:3])
            raise ConfigError(f"{source}: server '{raw}' is invalid: {problems}", "fix that entry") from None
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # JSON strings and lists of strings are valid TOML


def to_toml(name: str, server: McpServerSettings) -> str:
    """The ``[mcp.servers.NAME]`` table for ``server`` (only the keys it sets)."""
    data = server.model_dump(exclude_defaults=True)
    lines = [f"[mcp.servers.{name}]"]
    tables = {k: data.pop(k) for k in ("env", "headers") if k in data}
    lines += [f"{key} = {_toml_value(value)}" for key, value in data.items()]
    for key, table in tables.items():
        lines.append(f"[mcp.servers.{name}.{key}]")
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def import_file(path: Path, config: Path, existing: set[str]) -> tuple[list[str], list[str]]:
    """Append the servers of ``path`` to ``config``; returns ``(added, skipped)`` names.

    Raises:
        ConfigError: the file cannot be read or is invalid (nothing is written then).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", "give a JSON file with an \"mcpServers\" object") from None
    servers = parse_servers(data, str(path))
    added = [n for n in servers if n not in existing]
    skipped = [n for n in servers if n in existing]
    if added:
        config.parent.mkdir(parents=True, exist_ok=True)
        old = config.read_text(encoding="utf-8") if config.exists() else ""
        text = "".join("\n" + to_toml(n, servers[n]) for n in added)
        config.write_text(old.rstrip("\n") + ("\n" if old else "") + text, encoding="utf-8")
    return added, skipped
