"""Fixtures for skill tests: settings, a fake model manager, a runner, fixture plugins."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.events import Progress


@pytest.fixture
def settings(isolated_home: Path):
    from assistant.config import load_settings

    return load_settings()


@pytest.fixture
def registry(settings):
    from assistant.skills.registry import load_skills

    return load_skills(settings, entry_points=None)


class Runner:
    """Runs a skill the way the pipeline does, on a FakeBackend with a script."""

    def __init__(self, settings, registry) -> None:
        self.settings = settings
        self.registry = registry
        self.backends: list[FakeBackend] = []

    def __call__(self, name: str, text: str, *, script: Any = None, n_ctx: int = 2048, attachments=(),
                 confirm: Callable[[str], bool] | None = None, now: str | None = None,
                 skill_settings: dict | None = None, history=()) -> tuple[str, list[Progress]]:
        from assistant.skills.context import DirectModelAccess

        def factory(model: str, adapter):
            backend = FakeBackend(model, script=list(script) if isinstance(script, list) else script, n_ctx=n_ctx)
            self.backends.append(backend)
            return backend

        skill = self.registry.get(name)
        assert skill is not None and skill.ok, (name, skill and skill.error)
        manager = ModelManager(self.settings, factory=factory)
        access = DirectModelAccess(manager, skill.model_name(self.settings) or self.settings.default_model)
        extra: dict[str, Any] = {}
        if now:
            extra["clock"] = lambda: datetime.fromisoformat(now)
        ctx = self.registry.context(skill, text=text, history=list(history), attachments=attachments,
                                    models=access, confirm=confirm, **extra)
        if skill_settings:
            ctx.settings = {**ctx.settings, **skill_settings}
        pieces, progress = [], []
        for item in self.registry.run(skill, ctx):
            (progress if isinstance(item, Progress) else pieces).append(item)
        return "".join(pieces), progress

    @property
    def requests(self):
        return [r for b in self.backends for r in b.requests]


@pytest.fixture
def run(settings, registry) -> Runner:
    return Runner(settings, registry)


def write_skill(root: Path, name: str, manifest: str, code: str | None = None) -> Path:
    """A skill folder under ``root`` with the given manifest body (and skill.py)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "skill.toml").write_text(textwrap.dedent(manifest))
    if code is not None:
        (folder / "skill.py").write_text(textwrap.dedent(code))
    return folder


def minimal_manifest(name: str, extra: str = "") -> str:
    return f'name = "{name}"\ndescription = "fixture skill {name}"\nexamples = ["do {name} please", "{name} now"]\n{extra}'
