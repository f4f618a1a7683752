"""Snapshot tests of the main screens (pytest-textual-snapshot; update with --snapshot-update)."""

from __future__ import annotations

from dataclasses import replace

from assistant.events import ReplyFinished
from assistant.tui.fake_pipeline import FakePipeline
from assistant.tui.store import MemoryConversationStore, StoredMessage

from .conftest import make_app, ready, turn_idle, wait_until

SIZE = (110, 40)
REPLY = "Here is a function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt returns **the sum**."


class SteadyPipeline(FakePipeline):
    """Reports a fixed decode rate so the badge is the same on every run."""

    def run_turn(self, *args, **kwargs):
        for event in super().run_turn(*args, **kwargs):
            yield replace(event, stats={**event.stats, "tokens_per_s": 31.5}) if isinstance(event, ReplyFinished) else event


def seeded_app():
    store = MemoryConversationStore(clock=lambda: 1_767_225_600.0)
    for title in ("Trip to Lisbon", "Parser bug"):
        cid = store.create(title)
        store.add_message(cid, StoredMessage("user", f"about {title}"))
    return make_app(SteadyPipeline(script=[REPLY], store=store))


async def steady(pilot) -> None:
    """Wait for warm-up and stop the cursor blinking (it would make snapshots flaky)."""
    await ready(pilot)
    pilot.app.chat.prompt.cursor_blink = False


async def chatted(pilot) -> None:
    await steady(pilot)
    pilot.app.chat.prompt.insert("write a python function to add")
    await pilot.press("enter")
    await wait_until(pilot, lambda: turn_idle(pilot.app) and pilot.app.chat.conversation_id is not None)
    await pilot.pause(0.3)


def test_chat_screen(snap_compare):
    app, _ = seeded_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=chatted)


def test_route_trace(snap_compare):
    app, _ = seeded_app()

    async def run_before(pilot):
        await chatted(pilot)
        await pilot.press("f2")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare):
    app, _ = seeded_app()

    async def run_before(pilot):
        await steady(pilot)
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_confirmation_dialog(snap_compare):
    app, _ = seeded_app()

    async def run_before(pilot):
        await steady(pilot)
        pilot.app.chat.prompt.insert("delete note shopping")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
