"""Helpers for the TUI tests: an app on the real pipeline with fakes at its bottom seams
(echoing FakeBackend models, the hashing FakeEmbedder, an in-memory store with a fixed clock),
and polling instead of sleeps."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

import pytest

from assistant.backends.fake import Script
from assistant.config import load_settings
from assistant.memory.store import Store
from assistant.pipeline import Pipeline, fake_pipeline
from assistant.tui.app import AssistantApp
from assistant.tui.settings import TuiSettings

FIXED_NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC, so sidebar times are stable in snapshots


@pytest.fixture(autouse=True)
def _routes_from_the_session_cache(shared_router_cache: Path) -> None:
    """Every app routes the same built-in skills: built by the first test, read by the others."""


@pytest.fixture
def broken_skill(tmp_path: Path) -> str:
    """A user skill that fails to load (it imports a module that is not installed)."""
    folder = tmp_path / "skills" / "weather"  # user skills live beside the config file
    folder.mkdir(parents=True)
    (folder / "skill.toml").write_text('name = "weather"\ndescription = "Weather forecasts"\n'
                                       'examples = ["will it rain tomorrow"]\n')
    (folder / "skill.py").write_text("import pyowm  # not installed\n\ndef respond(ctx):\n    yield 'sunny'\n")
    return "weather"


def fixed_clock() -> Callable[[], str]:
    """Timestamps a millisecond apart from FIXED_NOW: stable on screen, still ordered."""
    ticks = itertools.count()
    return lambda: datetime.fromtimestamp(FIXED_NOW + next(ticks) / 1000, UTC).isoformat(timespec="microseconds")


def make_pipeline(script: Script | list[str] | None = None, *, delay_s: float = 0.0, warmup_s: float = 0.0) -> Pipeline:
    """The real pipeline on the fakes; ``script`` gives every model's replies (default: echo)."""
    return fake_pipeline(load_settings(), script=script, delay_s=delay_s, warmup_s=warmup_s,
                         store=Store.memory(clock=fixed_clock()))


def make_app(pipeline: Pipeline | None = None, settings: TuiSettings | None = None,
             export_dir: Path | None = None) -> tuple[AssistantApp, Pipeline]:
    """An app on ``pipeline`` (by default :func:`make_pipeline` with its defaults)."""
    pipe = pipeline or make_pipeline()

    def services(confirm):
        pipe.confirm = confirm
        return pipe

    return AssistantApp(services, settings or TuiSettings(), export_dir), pipe


def user_turns(pipe: Pipeline) -> list[str]:
    """The user messages stored so far, oldest conversation first."""
    convs = sorted(pipe.store.list_conversations(100), key=lambda c: c.created_at)
    return [m.content for c in convs for m in pipe.store.messages(c.id) if m.role == "user"]


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot) -> None:
    """Wait until the app's services are built and warm."""
    chat = pilot.app.chat
    # The first app of the run builds the router (a few seconds); the others read its cache.
    await wait_until(pilot, lambda: chat.session.services_ready and not chat.session.components_loading, timeout=60,
                     what="services ready")


async def type_text(pilot, text: str) -> None:
    """Type ``text`` into the focused prompt (fast: one insert, like a paste without the paste event)."""
    pilot.app.chat.prompt.insert(text)
    await pilot.pause()


async def send(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


def turn_idle(app: AssistantApp) -> bool:
    return app.chat.session.active is None and not app.chat.session.queue
