"""One connection to one MCP server, driven from ordinary threads.

The official SDK is async (anyio); the app's skills run in worker threads. Every connection
of a :class:`McpHub` lives on one event loop in a daemon thread, and each public method
submits a coroutine there and waits for it with a timeout. A server that cannot be started,
does not answer ``initialize``, exits, or leaves a call unanswered past its timeout is marked
failed with the reason and stopped; the next use starts it again. Calls are never retried,
so nothing runs twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from pathlib import Path
from typing import Any, Literal

from assistant.errors import SkillError
from assistant.mcp.settings import McpServerSettings
from assistant.tools.spec import ToolSpec

State = Literal["cold", "starting", "ready", "failed"]
_POLL_S = 0.05


class McpError(SkillError):
    """An MCP server could not be started or a call to it failed."""


class McpCancelled(McpError):
    """The user cancelled a call while it ran."""


class LoopThread:
    """An asyncio loop in a daemon thread, shared by the connections of one hub."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mcp-loop", daemon=True)
        self._thread.start()

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)


def describe(exc: BaseException) -> str:
    """A one-line reason from an exception (anyio groups are unwrapped to their first cause)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class McpConnection:
    """The client side of one configured server.

    Args:
        name: the server's name in the config.
        server: its settings.
        loop: the hub's event loop thread.
        start_timeout_s: how long starting and listing tools may take.
        log_dir: where the server's stderr is written (``NAME.stderr.log``).
    """

    def __init__(self, name: str, server: McpServerSettings, loop: LoopThread, *, start_timeout_s: float,
                 log_dir: Path) -> None:
        self.name = name
        self.server = server
        self._loop = loop
        self.start_timeout_s = start_timeout_s
        self.log_dir = log_dir
        self.state: State = "cold"
        self.error = ""
        self.server_version: str | None = None
        self.tools: list[ToolSpec] = []
        self.garbage_lines = 0  # stdout lines that were not JSON-RPC
        self._session: Any = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    # Starting and stopping -------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the server unless it is running (a failed one is started again).

        Raises:
            McpError: it could not be started or did not list its tools in time.
        """
        with self._lock:
            if self.state == "ready" and self._session is not None:
                return
            self._stop_now()
            self.state, self.error, self.garbage_lines = "starting", "", 0
            future = self._loop.submit(self._start())
            try:
                future.result(timeout=self.start_timeout_s + 5)
            except BaseException as exc:  # noqa: BLE001 - a failed start of any kind (even a cancel) stops the server and is reported
                future.cancel()
                self._stop_now()
                reason = self._start_reason(exc)
                self.state, self.error = "failed", reason
                raise McpError(f"MCP server '{self.name}' failed to start: {reason}",
                               f"check [mcp.servers.{self.name}] and {self.stderr_log}") from None
            self.state = "ready"

    def _start_reason(self, exc: BaseException) -> str:
        if isinstance(exc, (asyncio.TimeoutError, concurrent.futures.TimeoutError, TimeoutError)):
            garbage = f" (it wrote {self.garbage_lines} lines that are not JSON-RPC)" if self.garbage_lines else ""
            return f"no answer to initialize/tools/list within {self.start_timeout_s:g} s{garbage}"
        return describe(exc)

    @property
    def stderr_log(self) -> Path:
        return self.log_dir / f"{self.name}.stderr.log"

    async def _start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._serve(ready, self._stop))
        try:
            await asyncio.wait_for(asyncio.shield(ready), timeout=self.start_timeout_s)
        except BaseException:
            if not ready.done():
                ready.cancel()  # nobody waits for it any more
            self._task.cancel()
            raise

    async def _serve(self, ready: asyncio.Future[None], stop: asyncio.Event) -> None:
        from mcp.client.session import ClientSession

        try:
            async with self._transport() as streams:
                async with ClientSession(streams[0], streams[1], message_handler=self._on_message) as session:
                    init = await session.initialize()
                    tools = await self._list_tools(session)
                    self.server_version = init.server_info.version if init.server_info else None
                    self.tools = tools
                    self._session = session
                    if not ready.done():
                        ready.set_result(None)
                    await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else McpError(describe(exc)))
            elif not stop.is_set() and not isinstance(exc, asyncio.CancelledError):
                self._died(describe(exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._session = None

    def _transport(self) -> Any:
        if self.server.url:
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            client = create_mcp_http_client(headers=dict(self.server.headers)) if self.server.headers else None
            return streamable_http_client(self.server.url, http_client=client)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        self.log_dir.mkdir(parents=True, exist_ok=True)
        params = StdioServerParameters(command=self.server.command or "", args=list(self.server.args),
                                       env=dict(self.server.env), cwd=self.server.cwd)
        return _with_errlog(stdio_client, params, self.stderr_log)

    @staticmethod
    async def _list_tools(session: Any) -> list[ToolSpec]:
        from mcp.types import PaginatedRequestParams

        out: list[ToolSpec] = []
        cursor = None
        for _page in range(50):  # a server that pages forever is cut off
            listing = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            out += [ToolSpec.from_mcp(t) for t in listing.tools]
            cursor = listing.next_cursor
            if not cursor:
                break
        return out

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, Exception):  # a line on stdout that is not JSON-RPC
            self.garbage_lines += 1

    def _died(self, reason: str) -> None:
        if self.state == "ready":
            self.state, self.error = "failed", f"the connection ended: {reason}"

    def _stop_now(self) -> None:
        stop, task = self._stop, self._task
        self._stop = self._task = None
        self._session = None
        if stop is not None:
            self._loop.loop.call_soon_threadsafe(stop.set)
        if task is not None and not task.done():
            done = self._loop.submit(_wait_task(task, 6.0))
            with contextlib.suppress(Exception):
                done.result(timeout=8.0)

    def close(self) -> None:
        """Stop the server (safe to call twice)."""
        with self._lock:
            self._stop_now()
            if self.state != "failed":
                self.state = "cold"

    def fail(self, reason: str) -> None:
        """Mark the server failed and stop it; the next use starts it again."""
        with self._lock:
            self.state, self.error = "failed", reason
            self._stop_now()

    # Calls -----------------------------------------------------------------------------
    def call(self, tool: str, arguments: dict[str, Any], *, timeout_s: float,
             cancel: threading.Event | None = None) -> Any:
        """Call ``tool`` once and return the SDK's ``CallToolResult``.

        Raises:
            McpCancelled: ``cancel`` was set while the call ran (the call is cancelled).
            McpError: the server is down, answered with a protocol error or a malformed
                result, or did not answer within ``timeout_s`` (it is then stopped).
        """
        self.ensure_started()
        session = self._session
        if session is None:
            raise McpError(f"MCP server '{self.name}' is not running: {self.error}", "try again")
        future = self._loop.submit(session.call_tool(tool, arguments))
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return future.result(timeout=_POLL_S)
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.is_set():
                    future.cancel()
                    raise McpCancelled(f"the call to {tool} was cancelled", "") from None
                if time.monotonic() > deadline:
                    future.cancel()
                    self.fail(f"{tool} did not answer within {timeout_s:g} s")
                    raise McpError(f"MCP server '{self.name}': {tool} did not answer within {timeout_s:g} s",
                                   "the server was stopped; it starts again on the next use") from None
            except concurrent.futures.CancelledError:
                raise McpCancelled(f"the call to {tool} was cancelled", "") from None
            except Exception as exc:  # noqa: BLE001 - any failure of the call becomes an McpError naming the tool
                raise self._call_error(tool, exc) from None

    def _call_error(self, tool: str, exc: BaseException) -> McpError:
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED

        reason = describe(exc)
        closed = isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED
        if closed or self._session is None or self.state == "failed":
            reason = "the server closed the connection (it exited or crashed)"
            self.fail(f"the connection ended during {tool}: {reason}")
            return McpError(f"MCP server '{self.name}' stopped during {tool}: {reason}",
                            "it starts again on the next use; see `assistant mcp list`")
        if "validation" in reason.lower():
            reason = f"the server sent a malformed result ({reason})"
        return McpError(f"MCP server '{self.name}': {tool} failed: {reason}", "check the arguments, or try again")


async def _wait_task(task: asyncio.Task[None], timeout: float) -> None:
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(task), timeout)
    if not task.done():
        task.cancel()


@contextlib.asynccontextmanager
async def _with_errlog(stdio_client: Any, params: Any, path: Path) -> Any:
    """``stdio_client`` with the server's stderr going to a log file, not the terminal."""
    with path.open("a", encoding="utf-8", errors="replace") as errlog:
        async with stdio_client(params, errlog=errlog) as streams:
            yield streams
