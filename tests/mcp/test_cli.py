"""`assistant mcp import` and `assistant mcp list`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import load_settings


def test_import_adds_servers_to_the_user_config(tmp_path: Path, flaky, capsys) -> None:
    server = flaky()
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(json.dumps({"mcpServers": {
        "Flaky Server": {**server, "env": {"TOKEN": "abc \"quoted\""}},
        "web": {"url": "http://127.0.0.1:9/mcp", "disabled": True}}}))
    assert main(["mcp", "import", str(source)]) == 0
    settings = load_settings()
    assert settings.mcp.servers["flaky-server"].command == server["command"]
    assert settings.mcp.servers["flaky-server"].env == {"TOKEN": 'abc "quoted"'}
    assert settings.mcp.servers["web"].enabled is False
    assert main(["mcp", "import", str(source)]) == 0  # again: skipped, never overwritten
    assert "skipped flaky-server: already configured" in capsys.readouterr().out


def test_a_bad_import_file_changes_nothing(tmp_path: Path, capsys) -> None:
    config = tmp_path / "user-config.toml"  # the isolated user config
    before = config.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}, "b": {"args": ["no command"]}}}))
    assert main(["mcp", "import", str(bad)]) == 2
    assert "server 'b' is invalid" in capsys.readouterr().err
    assert config.read_text() == before


def test_list_shows_state_tools_and_failures(user_config, flaky, capsys) -> None:
    good, bad = flaky(), flaky("exit")
    user_config(f"[mcp]\nstart_timeout_s = 30\n[mcp.servers.good]\ncommand = {json.dumps(good['command'])}\n"
                f"args = {json.dumps(good['args'])}\n[mcp.servers.bad]\ncommand = {json.dumps(bad['command'])}\n"
                f"args = {json.dumps(bad['args'])}\n")
    assert main(["mcp", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["good"]["state"] == "ready" and {"name": "echo", "read_only": True,
                                                 "description": "Echo the given text back unchanged."} in rows["good"]["tools"]
    assert rows["bad"]["state"] == "failed" and "Connection closed" in rows["bad"]["error"]
    assert main(["mcp", "list", "--cached"]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "cached" in out and "echo" in out
    # `skills list` starts no server, and still says which one failed (kept from the run above).
    assert main(["skills", "list"]) == 0
    out = capsys.readouterr().out
    assert "bad: its MCP server failed: " in out and "Connection closed" in out and "good: its MCP server" not in out
    assert main(["skills", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["bad"]["server"].startswith("failed: ") and rows["good"]["server"].startswith("cold: ")


def test_list_without_servers_says_how_to_add_one(capsys) -> None:
    assert main(["mcp", "list"]) == 0
    assert "no MCP servers configured" in capsys.readouterr().out


@pytest.mark.parametrize("table, key", [("command = 'x'\nurl = 'http://127.0.0.1:1/'", "exactly one"),
                                         ("command = 'x'\ncomand = 'y'", "unknown key")])
def test_bad_server_config_is_a_config_error(user_config, table: str, key: str, capsys) -> None:
    user_config(f"[mcp.servers.s]\n{table}\n")
    assert main(["mcp", "list"]) == 2
    assert key in capsys.readouterr().err
