"""Against MCP servers installed from PyPI (mcp-server-time, mcp-server-git), started by the
tests: list tools, narrow to the right tool, valid arguments, call, render."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from assistant.tools import engine


def time_server(server_bin) -> dict:
    return {"command": server_bin("mcp-server-time"), "args": ["--local-timezone", "UTC"]}


def test_time_server_lists_its_tools_read_only(skill_env, server_bin) -> None:
    from assistant.mcp.hub import McpHub

    settings, _, _ = skill_env({"time": time_server(server_bin)})
    hub = McpHub.from_settings(settings)
    try:
        tools = {t.name: t for t in hub.tools("time")}
    finally:
        hub.close()
    assert {"get_current_time", "convert_time"} <= set(tools)
    assert all(t.read_only for t in tools.values())
    assert tools["get_current_time"].input_schema["required"] == ["timezone"]


def test_what_time_is_it_in_tokyo(skill_env, server_bin, tool_script) -> None:
    from assistant.mcp.hub import McpHub

    settings, _, run = skill_env({"time": time_server(server_bin)})
    hub = McpHub.from_settings(settings)
    try:
        tools = hub.tools("time")
    finally:
        hub.close()
    assert engine.candidates("what time is it in Tokyo", tools, 1)[0].name == "get_current_time"
    text, _ = run("time", "what time is it in Tokyo", tool_script("get_current_time", {"timezone": "Asia/Tokyo"}))
    assert text.startswith('`get_current_time` {"timezone": "Asia/Tokyo"}:')
    shown = json.loads(text.split("```\n")[1])
    assert shown["timezone"] == "Asia/Tokyo" and shown["datetime"].endswith("+09:00")
    choice, args = run.requests
    assert "get_current_time" in choice.json_schema["properties"]["tool"]["enum"]
    assert args.json_schema["properties"].keys() == {"timezone"}


def test_an_invalid_timezone_is_reported_by_the_server_as_an_error(skill_env, server_bin, tool_script) -> None:
    _, _, run = skill_env({"time": time_server(server_bin)})
    text, _ = run("time", "time in Mars/Olympus", tool_script("get_current_time", {"timezone": "Mars/Olympus"}))
    assert "reported an error" in text and "Mars/Olympus" in text


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True,
                       env={"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "T",
                            "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})

    git("init", "-q")
    for n in range(1, 5):
        (path / "f.txt").write_text(f"{n}\n")
        git("add", "f.txt")
        git("commit", "-q", "-m", f"commit number {n}")
    return path


def test_show_the_last_3_commits_of_this_repo(skill_env, server_bin, tool_script, repo: Path) -> None:
    server = {"command": server_bin("mcp-server-git"), "args": ["--repository", str(repo)],
              "defaults": {"repo_path": str(repo)}}
    _, registry, run = skill_env({"git": server})
    text, _ = run("git", "show the last 3 commits of this repo", tool_script("git_log", {"max_count": 3}))
    assert text.startswith("`git_log`") and '"max_count": 3' in text
    assert "commit number 4" in text and "commit number 2" in text and "commit number 1" not in text
    choice = run.requests[0].json_schema["properties"]["tool"]["enum"]
    assert "git_log" in choice and len(choice) <= 4  # narrowed to a few candidates (+ none)


def test_git_writes_ask_first(skill_env, server_bin, tool_script, repo: Path) -> None:
    server = {"command": server_bin("mcp-server-git"), "args": ["--repository", str(repo)],
              "defaults": {"repo_path": str(repo)}}
    _, _, run = skill_env({"git": server})
    text, _ = run("git", "create a branch named feature-x", tool_script("git_create_branch", {"branch_name": "feature-x"}))
    assert text.startswith("Not run: `git_create_branch`")
    branches = subprocess.run(["git", "-C", str(repo), "branch"], capture_output=True, text=True).stdout
    assert "feature-x" not in branches
