"""Helpers for the TUI tests: an app on the fake pipeline, and polling instead of sleeps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from assistant.tui.app import AssistantApp, Services
from assistant.tui.fake_pipeline import FakePipeline
from assistant.tui.settings import TuiSettings
from assistant.tui.store import MemoryConversationStore

FIXED_NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC, so sidebar times are stable in snapshots


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def make_app(pipeline: FakePipeline | None = None, settings: TuiSettings | None = None, export_dir: Path | None = None) -> tuple[AssistantApp, FakePipeline]:
    """An app on ``pipeline`` (a fresh FakePipeline with a fixed clock by default)."""
    pipe = pipeline or FakePipeline(store=MemoryConversationStore(clock=lambda: FIXED_NOW))

    def services(confirm):
        pipe.set_confirmer(confirm)
        return Services(pipe, pipe.store)

    return AssistantApp(services, settings or TuiSettings(), export_dir), pipe


async def ready(pilot) -> None:
    """Wait until the app's services are built and warm."""
    chat = pilot.app.chat
    await wait_until(pilot, lambda: chat.services_ready and not chat.components_loading, what="services ready")


async def type_text(pilot, text: str) -> None:
    """Type ``text`` into the focused prompt (fast: one insert, like a paste without the paste event)."""
    pilot.app.chat.prompt.insert(text)
    await pilot.pause()


async def send(pilot, text: str) -> None:
    await type_text(pilot, text)
    await pilot.press("enter")


def turn_idle(app: AssistantApp) -> bool:
    return app.chat.active is None and not app.chat.queue


@pytest.fixture
def app_and_pipeline(tmp_path: Path):
    return make_app(export_dir=tmp_path / "exports")
