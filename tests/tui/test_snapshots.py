"""Snapshot tests of the main screens (pytest-textual-snapshot; update with --snapshot-update)."""

from __future__ import annotations

import json
from dataclasses import replace

from assistant.events import ReplyFinished

from .conftest import make_app, make_pipeline, ready, turn_idle, wait_until

SIZE = (110, 40)
REPLY = "Here is a function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt returns **the sum**."


def seeded_app():
    """Two stored conversations and two notes; every reply is REPLY, at a fixed decode rate
    (so the badge is the same on every run)."""
    pipe = make_pipeline(script=[REPLY])
    for title in ("Trip to Lisbon", "Parser bug"):
        cid = pipe.store.create_conversation(title)
        pipe.store.add_message(cid, "user", f"about {title}")
    notes = pipe.settings.data_dir / "skills" / "notes"
    notes.mkdir(parents=True)
    items = [{"id": i, "kind": "note", "text": t, "done": False, "created": "2026-01-01T00:00:00"}
             for i, t in ((1, "milk"), (2, "call mum"))]
    (notes / "notes.json").write_text(json.dumps({"next_id": 3, "items": items}))
    run_turn = pipe.run_turn

    def steady(*args, **kwargs):
        for event in run_turn(*args, **kwargs):
            yield replace(event, stats={**event.stats, "tokens_per_s": 31.5}) if isinstance(event, ReplyFinished) else event

    pipe.run_turn = steady
    return make_app(pipe)


async def steady(pilot) -> None:
    """Wait for warm-up and stop the cursor blinking (it would make snapshots flaky)."""
    await ready(pilot)
    pilot.app.chat.prompt.cursor_blink = False


async def chatted(pilot) -> None:
    await steady(pilot)
    pilot.app.chat.prompt.insert("write a python function to add")
    await pilot.press("enter")
    await wait_until(pilot, lambda: turn_idle(pilot.app) and pilot.app.chat.session.conversation_id is not None)
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
        pilot.app.chat.prompt.insert("forget everything")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
