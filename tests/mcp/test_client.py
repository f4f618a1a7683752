"""The MCP client against a real (misbehaving) server started by the test: the app keeps
working, every failure has a clear reason, and nothing is called twice."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from assistant.mcp.client import McpCancelled, McpError
from assistant.mcp.hub import McpHub


@pytest.fixture
def hub_for(make_settings, hubs):
    def make(servers, **mcp):
        settings = make_settings(servers, **mcp)
        hub = McpHub.from_settings(settings)
        hubs.append(hub)
        return hub

    return make


def test_lists_tools_with_read_only_hints_and_caches_them(hub_for, flaky, tmp_path: Path) -> None:
    hub = hub_for({"flaky": flaky()})
    assert hub.cached_tools("flaky") is None
    tools = {t.name: t for t in hub.tools("flaky")}
    assert {"echo", "note", "crash", "hang", "huge"} <= set(tools)
    assert tools["echo"].read_only and not tools["note"].read_only
    assert tools["echo"].input_schema["required"] == ["text"]
    assert [t.name for t in hub.cached_tools("flaky")] == [t for t in tools]
    assert hub.connection("flaky").server_version == "1.0"


def test_a_call_returns_the_result(hub_for, flaky) -> None:
    hub = hub_for({"flaky": flaky()})
    result = hub.connection("flaky").call("echo", {"text": "hello"}, timeout_s=5)
    assert result.content[0].text == "hello" and not result.is_error


def test_crash_marks_the_server_failed_and_the_next_use_restarts_it(hub_for, flaky) -> None:
    hub = hub_for({"flaky": flaky()})
    conn = hub.connection("flaky")
    with pytest.raises(McpError, match="closed the connection"):
        conn.call("crash", {}, timeout_s=5)
    state, reason = hub.state("flaky")
    assert state == "failed" and "crash" in reason
    assert conn.call("echo", {"text": "back"}, timeout_s=5).content[0].text == "back"
    assert hub.state("flaky")[0] == "ready"


def test_a_hung_call_times_out_and_the_server_is_restarted_on_next_use(hub_for, flaky) -> None:
    hub = hub_for({"flaky": flaky()})
    conn = hub.connection("flaky")
    started = time.monotonic()
    with pytest.raises(McpError, match="did not answer within 1 s"):
        conn.call("hang", {}, timeout_s=1)
    assert time.monotonic() - started < 10
    assert hub.state("flaky") == ("failed", "hang did not answer within 1 s")
    assert conn.call("echo", {"text": "ok"}, timeout_s=5).content[0].text == "ok"


def test_cancel_stops_a_running_call_quickly(hub_for, flaky) -> None:
    hub = hub_for({"flaky": flaky()})
    conn = hub.connection("flaky")
    conn.ensure_started()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(McpCancelled):
        conn.call("hang", {}, timeout_s=30, cancel=cancel)
    assert time.monotonic() - started < 2
    assert conn.call("echo", {"text": "still here"}, timeout_s=5).content[0].text == "still here"


@pytest.mark.parametrize("mode, reason", [
    ("garbage", "not JSON-RPC"),
    ("silent", "no answer to initialize"),
    ("exit", "Connection closed"),
])
def test_a_server_that_cannot_start_is_failed_with_its_reason(hub_for, flaky, mode: str, reason: str) -> None:
    hub = hub_for({"bad": flaky(mode)}, start_timeout_s=1.5)
    with pytest.raises(McpError, match="failed to start") as err:
        hub.tools("bad")
    assert reason in err.value.message
    state, why = hub.state("bad")
    assert state == "failed" and reason in why


def test_a_malformed_result_is_a_clear_error_not_a_crash(hub_for, flaky) -> None:
    hub = hub_for({"bad": flaky("malformed")})
    assert [t.name for t in hub.tools("bad")] == ["echo"]
    with pytest.raises(McpError, match="malformed result"):
        hub.connection("bad").call("echo", {"text": "x"}, timeout_s=5)


def test_nothing_is_called_twice_even_around_failures(hub_for, flaky, tmp_path: Path) -> None:
    log = tmp_path / "notes.log"
    hub = hub_for({"flaky": flaky(log=log)})
    conn = hub.connection("flaky")
    conn.call("note", {"text": "one"}, timeout_s=5)
    with pytest.raises(McpError):
        conn.call("crash", {}, timeout_s=5)
    conn.call("note", {"text": "two"}, timeout_s=5)
    assert log.read_text().splitlines() == ["one", "two"]


def test_the_child_sees_only_configured_variables(hub_for, flaky, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_TOKEN_FOR_TEST", "do-not-leak")
    hub = hub_for({"flaky": flaky(env={"ONLY_THIS": "1"})})
    names = hub.connection("flaky").call("env_names", {}, timeout_s=5).content[0].text.split()
    assert "ONLY_THIS" in names and "PATH" in names
    assert "SECRET_TOKEN_FOR_TEST" not in names
    assert not any(n.startswith("ASSISTANT_") for n in names)
    assert set(names) <= {"ONLY_THIS", "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LC_CTYPE"}


def test_a_changed_version_or_tool_list_rewrites_the_cache_and_notifies(hub_for, flaky) -> None:
    hub = hub_for({"flaky": flaky()})
    seen: list[int] = []
    hub.on_change = lambda: seen.append(1)
    hub.tools("flaky")
    hub.tools("flaky")
    assert seen == [1]  # written once; the second listing is the same
    path = hub.cache.path("flaky", hub.settings.servers["flaky"])
    assert path.exists() and os.path.getsize(path) > 0


def test_close_stops_everything_and_is_safe_twice(hub_for, flaky) -> None:
    hub = hub_for({"flaky": flaky()})
    hub.tools("flaky")
    hub.close()
    hub.close()
    assert hub.state("flaky") == ("cold", "")


def test_tool_cache_survives_two_starts_saving_at_once(tmp_path) -> None:
    import threading

    from assistant.mcp.hub import ToolCache
    from assistant.mcp.settings import McpServerSettings
    from assistant.tools.spec import ToolSpec

    cache, server = ToolCache(tmp_path / "mcp"), McpServerSettings(command="some-server")
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            for j in range(30):
                cache.save("s", server, f"{i}.{j}", [ToolSpec(f"tool{i}")])
        except BaseException as exc:  # noqa: BLE001 - any failure here is the bug
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.load("s", server) is not None
    assert not list((tmp_path / "mcp").glob("*.tmp"))
