"""Fixtures for the MCP tests: real servers started by the tests, scripted fake models."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from assistant.backends.base import GenerationRequest
from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.events import Progress

pytest.importorskip("mcp")
pytest.importorskip("jsonschema")

FLAKY = Path(__file__).resolve().parent / "flaky_server.py"


def _flaky(mode: str = "normal", log: Path | None = None, **extra: Any) -> dict[str, Any]:
    """A ``[mcp.servers.X]`` table that starts the misbehaving test server."""
    args = [str(FLAKY), "--mode", mode] + (["--log", str(log)] if log else [])
    return {"command": sys.executable, "args": args, **extra}


@pytest.fixture
def flaky() -> Callable[..., dict[str, Any]]:
    """``flaky(mode, log, **keys)``: the server table of the misbehaving test server."""
    return _flaky


def _server_bin(name: str) -> str:
    """The console script of a PyPI MCP server installed beside this Python, or skip."""
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install {name})")
    return found


@pytest.fixture
def make_settings(isolated_home: Path) -> Callable[..., Any]:
    """Settings with the given MCP servers (and quick timeouts), router on the fake embedder."""
    from assistant.config import load_settings

    def make(servers: dict[str, dict[str, Any]], **mcp: Any) -> Any:
        return load_settings(overrides={"router": {"embedder": "fake", "adapt": False},
                                        "mcp": {"servers": servers, "start_timeout_s": 30, "call_timeout_s": 10, **mcp}})

    return make


@pytest.fixture
def hubs() -> Any:
    """Hubs made through this list are closed after the test."""
    made: list[Any] = []
    yield made
    for hub in made:
        hub.close()


@pytest.fixture
def server_bin() -> Callable[[str], str]:
    """``server_bin(name)``: the path of an installed PyPI MCP server (the test skips without it)."""
    return _server_bin


@pytest.fixture
def tool_script() -> Callable[..., Callable[[GenerationRequest], str]]:
    """``tool_script(tool, args)``: see :func:`_tool_script`."""
    return _tool_script


def _tool_script(tool: str | None, args: dict[str, Any] | None) -> Callable[[GenerationRequest], str]:
    """A fake model that picks ``tool`` when asked to choose and answers ``args`` when asked
    for arguments (keys it does not give are null)."""

    def reply(request: GenerationRequest) -> str:
        schema = request.json_schema or {}
        props = schema.get("properties", {})
        if "enum" in props.get("tool", {}):
            return json.dumps({"tool": tool or "none"})
        return json.dumps({k: (args or {}).get(k) for k in props})

    return reply


class SkillRunner:
    """Runs an MCP skill the way the pipeline does, on a FakeBackend with a script."""

    def __init__(self, settings: Any, registry: Any) -> None:
        self.settings, self.registry = settings, registry
        self.backends: list[FakeBackend] = []

    def __call__(self, name: str, text: str, script: Any, *, confirm: Callable[[str], bool] | None = None,
                 history: list[Any] = (), cancel: Any = None) -> tuple[str, list[Progress]]:
        from assistant.skills.context import DirectModelAccess

        def factory(model: str, adapter: Any) -> FakeBackend:
            backend = FakeBackend(model, script=script)
            self.backends.append(backend)
            return backend

        skill = self.registry.get(name)
        assert skill is not None and skill.ok, (name, skill and skill.error)
        access = DirectModelAccess(ModelManager(self.settings, factory=factory), self.settings.default_model)
        ctx = self.registry.context(skill, text=text, history=list(history), models=access, confirm=confirm,
                                    cancel=cancel)
        pieces: list[str] = []
        progress: list[Progress] = []
        for item in self.registry.run(skill, ctx):
            (progress if isinstance(item, Progress) else pieces).append(item)
        return "".join(pieces), progress

    @property
    def requests(self) -> list[GenerationRequest]:
        return [r for b in self.backends for r in b.requests]


@pytest.fixture
def skill_env(make_settings: Callable[..., Any]) -> Any:
    """``(settings, registry, runner)`` for the given servers; their servers are stopped after."""
    from assistant.skills.registry import load_skills

    made: list[Any] = []

    def build(servers: dict[str, dict[str, Any]], **mcp: Any) -> tuple[Any, Any, SkillRunner]:
        settings = make_settings(servers, **mcp)
        registry = load_skills(settings, entry_points=None)
        made.append(registry)
        return settings, registry, SkillRunner(settings, registry)

    yield build
    for registry in made:
        registry.close()
