"""A server over streamable HTTP on loopback (the test server, started by the test)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.mcp.client import McpError
from assistant.mcp.hub import McpHub

FLAKY = Path(__file__).resolve().parent / "flaky_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(FLAKY), "--http", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def test_tools_over_streamable_http(make_settings, hubs, http_server: str) -> None:
    hub = McpHub.from_settings(make_settings({"web": {"url": http_server}}))
    hubs.append(hub)
    assert "echo" in [t.name for t in hub.tools("web")]
    assert hub.connection("web").call("echo", {"text": "over http"}, timeout_s=5).content[0].text == "over http"


def test_nothing_listening_is_a_clear_failure(make_settings, hubs) -> None:
    hub = McpHub.from_settings(make_settings({"web": {"url": f"http://127.0.0.1:{free_port()}/mcp"}},
                                             start_timeout_s=3))
    hubs.append(hub)
    with pytest.raises(McpError, match="failed to start"):
        hub.tools("web")
    assert hub.state("web")[0] == "failed"
