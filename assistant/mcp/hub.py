"""Every configured MCP server: their connections, the tool-list cache, background start.

Tool lists are cached under ``cache/mcp/`` in one file per server, named by a hash of how the
server is started (command, args, cwd, url, the names of its env variables), and holding the
version the server reported. So the routes of a known server are ready at once on the next
start; when the running server reports another version or other tools, the cache is
rewritten and ``on_change`` is called (the app rebuilds its routes).

The last failure of a server (why, and when) is kept beside its tool list until it next starts
well, so a process that never started it (``assistant skills list``) can still say it failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from assistant.mcp.client import LoopThread, McpConnection, McpError
from assistant.mcp.settings import McpServerSettings, McpSettings
from assistant.tools.spec import ToolSpec

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)


def server_key(server: McpServerSettings) -> str:
    """A stable hash of how a server is started (its command line, not its secrets)."""
    what = {"command": server.command, "args": server.args, "cwd": server.cwd, "url": server.url,
            "env": sorted(server.env)}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


class ToolCache:
    """Tool lists on disk, one JSON file per server start command."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str, server: McpServerSettings) -> Path:
        return self.folder / f"{name}-{server_key(server)}.json"

    def load(self, name: str, server: McpServerSettings) -> tuple[str | None, list[ToolSpec]] | None:
        """``(server version, tools)`` as cached, or ``None`` (no cache, or an unreadable one)."""
        try:
            data = json.loads(self.path(name, server).read_text(encoding="utf-8"))
            return data.get("version"), [ToolSpec.from_dict(t) for t in data["tools"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, name: str, server: McpServerSettings, version: str | None, tools: list[ToolSpec]) -> bool:
        """Write the list; returns whether it changed."""
        if self.load(name, server) == (version, tools):
            return False
        path = self.path(name, server)
        # Two starts of one server (the background start and a turn's) may save at once: each
        # writes its own temporary file, and a failed write only costs the cache, never the turn.
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"version": version, "tools": [t.as_dict() for t in tools]}, indent=1),
                           encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        return True


    def failure_path(self, name: str, server: McpServerSettings) -> Path:
        return self.folder / f"{name}-{server_key(server)}.failed.json"

    def record_failure(self, name: str, server: McpServerSettings, reason: str | None) -> None:
        """Keep ``reason`` (with the time) as the server's last failure; ``None`` clears it.
        Only a cache: a failed write is ignored."""
        path = self.failure_path(name, server)
        try:
            if reason is None:
                path.unlink(missing_ok=True)
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            at = datetime.now().astimezone().isoformat(timespec="seconds")
            path.write_text(json.dumps({"error": reason, "at": at}), encoding="utf-8")
        except OSError:
            pass

    def last_failure(self, name: str, server: McpServerSettings) -> tuple[str, str] | None:
        """``(reason, local ISO time)`` of the server's last failure, or ``None``."""
        try:
            data = json.loads(self.failure_path(name, server).read_text(encoding="utf-8"))
            return str(data["error"]), str(data["at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


class McpHub:
    """The app's MCP servers.

    Args:
        mcp: the ``[mcp]`` settings.
        cache_dir: the app's cache dir (tool lists go to ``mcp/`` under it).
    """

    def __init__(self, mcp: McpSettings, cache_dir: Path) -> None:
        self.settings = mcp
        self.cache = ToolCache(cache_dir / "mcp")
        self._loop: LoopThread | None = None
        self._connections: dict[str, McpConnection] = {}
        self._lock = threading.Lock()
        self.on_change: Callable[[], None] | None = None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "McpHub":
        return cls(settings.mcp, settings.cache_dir)

    def enabled(self) -> dict[str, McpServerSettings]:
        return {n: s for n, s in self.settings.servers.items() if s.enabled}

    def connection(self, name: str) -> McpConnection:
        """The connection of server ``name`` (made on first use; not started)."""
        with self._lock:
            if name not in self._connections:
                if self._loop is None:
                    self._loop = LoopThread()
                    _quiet_sdk_logs(self.cache.folder / "logs")
                self._connections[name] = McpConnection(
                    name, self.settings.servers[name], self._loop, start_timeout_s=self.settings.start_timeout_s,
                    log_dir=self.cache.folder / "logs")
            return self._connections[name]

    def cached_tools(self, name: str) -> list[ToolSpec] | None:
        found = self.cache.load(name, self.settings.servers[name])
        return found[1] if found else None

    def tools(self, name: str) -> list[ToolSpec]:
        """The server's tools: live if it runs (started if need be), and cached for next time.

        Raises:
            McpError: the server could not be started.
        """
        conn = self.connection(name)
        try:
            conn.ensure_started()
        except McpError:
            self.cache.record_failure(name, self.settings.servers[name], conn.error or "it failed to start")
            raise
        self.cache.record_failure(name, self.settings.servers[name], None)
        changed = self.cache.save(name, self.settings.servers[name], conn.server_version, conn.tools)
        if changed and self.on_change is not None:
            try:
                self.on_change()
            except Exception as exc:  # noqa: BLE001 - a listener must not break the call path
                log.warning("MCP tool-list listener failed: %s", exc)
        return conn.tools

    def start_background(self) -> threading.Thread | None:
        """Start every enabled server in a daemon thread (one failure never stops the others)."""
        names = list(self.enabled())
        if not names:
            return None

        def run() -> None:
            for name in names:
                try:
                    self.tools(name)
                except McpError as exc:
                    log.info("%s", exc.message)
                except Exception as exc:  # noqa: BLE001 - never take the app down
                    self.connection(name).fail(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=run, name="mcp-start", daemon=True)
        thread.start()
        return thread

    def state(self, name: str) -> tuple[str, str]:
        """``(state, reason)`` of a server: cold (not started), starting, ready or failed."""
        with self._lock:
            conn = self._connections.get(name)
        return (conn.state, conn.error) if conn is not None else ("cold", "")

    def call_failed(self, name: str) -> None:
        """A call ended the server (crash, closed pipe): keep why, as a failed start is kept."""
        state, reason = self.state(name)
        if state == "failed":
            self.cache.record_failure(name, self.settings.servers[name], reason)

    def report(self, name: str) -> tuple[str, str]:
        """``(state, detail)`` as lists show a server: its live state in this process, else the
        last failure kept from an earlier one, else ``cold`` with its cached tool count."""
        state, reason = self.state(name)
        if state == "ready":
            conn = self.connection(name)
            return "ready", f"{len(conn.tools)} tools"
        if state in ("starting", "failed"):
            return state, reason
        kept = self.cache.last_failure(name, self.settings.servers[name])
        if kept is not None:
            return "failed", f"{kept[0]} (at {kept[1]}; it is started again on the next use)"
        cached = self.cached_tools(name)
        return "cold", (f"{len(cached)} tools cached" if cached is not None else "not started yet")

    def close(self) -> None:
        """Stop every server; safe to call twice."""
        with self._lock:
            conns, loop = list(self._connections.values()), self._loop
            self._connections, self._loop = {}, None
        for conn in conns:
            conn.close()
        if loop is not None:
            loop.stop()


def _quiet_sdk_logs(folder: Path) -> None:
    """The SDK logs a traceback for every bad line a server writes: keep that in a file,
    out of the terminal and the chat app."""
    sdk = logging.getLogger("mcp")
    if sdk.propagate:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / "sdk.log", encoding="utf-8", delay=True)
        handler.setLevel(logging.WARNING)
        sdk.addHandler(handler)
        sdk.propagate = False
