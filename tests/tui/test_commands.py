"""Pilot tests of routing controls, slash commands, attachments, help, keys and the palette."""

from __future__ import annotations

import pytest

from assistant.errors import ConfigError
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.screens.help import HelpScreen
from assistant.tui.screens.route import RouteScreen
from assistant.tui.settings import TuiSettings
from assistant.tui.widgets.chat_message import AssistantMessage, Badge, NoteMessage

from .conftest import make_app, ready, send, turn_idle, user_turns, wait_until


def replies(app) -> list[AssistantMessage]:
    return list(app.chat.query(AssistantMessage))


def last_note(app) -> NoteMessage:
    return app.chat.query(NoteMessage).last()


async def chat_once(pilot, text: str) -> None:
    await send(pilot, text)
    await wait_until(pilot, lambda: turn_idle(pilot.app) and bool(replies(pilot.app)), what="reply")


def trace_text(app) -> str:
    return str(app.screen.query_one("#trace").render())


async def test_why_shows_the_routing_trace():
    app, pipe = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await chat_once(pilot, "fix this python bug")
        await send(pilot, "/why")
        await wait_until(pilot, lambda: isinstance(app.screen, RouteScreen), what="trace screen")
        text = trace_text(app)
        for part in ("skill:     code", "threshold: 0.", "margin:", "runner-up:", "candidates:", "summarize", "fix this python bug"):
            assert part in text, part
        await pilot.press("escape")
        assert not isinstance(app.screen, RouteScreen)


async def test_selecting_a_badge_shows_the_trace_with_follow_up_reasoning():
    app, pipe = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await chat_once(pilot, "write python code")
        await send(pilot, "and more")
        await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == 2)
        await pilot.click(replies(app)[1].query_one(Badge))
        await wait_until(pilot, lambda: isinstance(app.screen, RouteScreen))
        assert "follow-up" in trace_text(app) and "skill:     code" in trace_text(app)


async def test_why_with_text_explains_without_answering():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "/why please summarize this")
        await wait_until(pilot, lambda: isinstance(app.screen, RouteScreen))
        assert "skill:     summarize" in trace_text(app)
        assert user_turns(pipe) == []


async def test_route_reruns_on_another_skill_and_saves_the_correction():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await chat_once(pilot, "why is the sky blue")
        assert replies(app)[0].skill == "chat"
        await send(pilot, "/route code")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="save offer")
        assert "routing example for 'code'" in app.screen.question
        assert replies(app)[-1].skill == "code" and replies(app)[-1].route.forced
        await pilot.press("y")
        await wait_until(pilot, lambda: pipe.router.corrections.load() == [("code", "why is the sky blue")],
                         what="correction saved")
        assert pipe.store.messages(app.chat.session.conversation_id)[-1].skill == "code"


async def test_route_correction_can_be_declined():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await chat_once(pilot, "why is the sky blue")
        await send(pilot, "/route summarize")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.1)
        assert pipe.router.corrections.load() == []


async def test_route_to_an_unknown_skill_is_a_clear_error():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await chat_once(pilot, "hello")
        await send(pilot, "/route nope")
        await wait_until(pilot, lambda: last_note(app).has_class("error"))
        assert "unknown skill 'nope'" in last_note(app).text and "code" in last_note(app).hint


async def test_skill_pins_and_auto_unpins(broken_skill):
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "/skill summarize")
        await wait_until(pilot, lambda: app.chat.session.pinned == "summarize")
        assert "summarize (pinned)" in str(app.chat.status_bar.render())
        await chat_once(pilot, "write python code")
        assert replies(app)[-1].skill == "summarize" and "pinned" in replies(app)[-1].badge_text()
        await send(pilot, "/auto")
        await wait_until(pilot, lambda: app.chat.session.pinned is None)
        await send(pilot, "write python code")
        await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == 2)
        assert replies(app)[-1].skill == "code"
        await send(pilot, "/skill weather")
        await wait_until(pilot, lambda: last_note(app).has_class("error"))
        assert "not available" in last_note(app).text and "pyowm" in last_note(app).text


async def test_skills_models_help_and_unknown_commands(broken_skill):
    app, pipe = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "/skills")
        await wait_until(pilot, lambda: last_note(app).text.startswith("Skills:"))
        assert "weather" in last_note(app).text and "failed" in last_note(app).text
        await send(pilot, "/models")
        await wait_until(pilot, lambda: last_note(app).text.startswith("Models"))
        budget = pipe.settings.runtime.memory_budget_mb
        assert "embedder" in last_note(app).text and f"/ {budget} MB" in last_note(app).text
        await send(pilot, "/frobnicate")
        await wait_until(pilot, lambda: last_note(app).has_class("error"))
        assert "unknown command /frobnicate" in last_note(app).text
        await send(pilot, "//not a command")
        await wait_until(pilot, lambda: turn_idle(app) and bool(replies(app)))
        assert user_turns(pipe)[-1] == "/not a command"
        await send(pilot, "/help")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_text = str(app.screen.query_one("#help-text").render())
        for part in ("/route SKILL", "/file PATH", "ctrl+j", "ctrl+n", "[tui.keys]"):
            assert part in help_text, part


async def test_clear_starts_a_new_conversation_and_keeps_the_old():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await chat_once(pilot, "first")
        old = app.chat.session.conversation_id
        await send(pilot, "/clear")
        await wait_until(pilot, lambda: app.chat.session.conversation_id is None and not replies(app))
        await chat_once(pilot, "second")
        assert app.chat.session.conversation_id != old
        assert len(pipe.store.list_conversations(10)) == 2


async def test_new_conversation_key():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await chat_once(pilot, "first")
        assert app.chat.session.conversation_id is not None
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.chat.session.conversation_id is None and not replies(app))
        assert not replies(app)


async def test_file_attachment_goes_to_the_routed_skill(tmp_path):
    doc = tmp_path / "report.txt"
    doc.write_text("Quarterly numbers are up.")
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, f"/file {doc}")
        await wait_until(pilot, lambda: app.chat.session.pending_attachments == [doc.resolve()])
        await chat_once(pilot, "summarize this file")
        assert replies(app)[-1].skill == "summarize"
        assert "Quarterly numbers are up." in replies(app)[-1].text
        assert app.chat.session.pending_attachments == []
        await send(pilot, f"/file {tmp_path / 'missing.txt'}")
        await wait_until(pilot, lambda: last_note(app).has_class("error"))
        assert "no such file" in last_note(app).text


async def test_pasting_a_file_path_attaches_it(tmp_path):
    from textual import events

    doc = tmp_path / "my notes.txt"
    doc.write_text("hello")
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        app.post_message(events.Paste(f"'{doc}'"))
        await wait_until(pilot, lambda: app.chat.session.pending_attachments == [doc.resolve()])
        assert app.chat.prompt.text == ""
        app.post_message(events.Paste("just some text"))
        await wait_until(pilot, lambda: app.chat.prompt.text == "just some text")


async def test_export_writes_the_conversation(tmp_path):
    app, pipe = make_app(export_dir=tmp_path)
    async with app.run_test() as pilot:
        await ready(pilot)
        await chat_once(pilot, "export me")
        await send(pilot, "/export")
        await wait_until(pilot, lambda: last_note(app).text.startswith("Exported to"))
        files = list(tmp_path.glob("conversation-*.md"))
        assert len(files) == 1 and "export me" in files[0].read_text()
        target = tmp_path / "out" / "c.json"
        await send(pilot, f"/export json {target}")
        await wait_until(pilot, lambda: target.exists())
        assert '"export me"' in target.read_text()


async def test_slash_completion():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("/", "s", "k")
        assert app.chat.prompt.suggestion == "ill"
        assert app.chat.query_one("#completions").display
        await pilot.press("tab")
        assert app.chat.prompt.text == "/skill"


async def test_key_bindings_come_from_settings():
    app, pipe = make_app(settings=TuiSettings(keys={"help": "f10", "new_conversation": "ctrl+t"}))
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("f1")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f10")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "ctrl+t" in str(app.screen.query_one("#help-text").render())


def test_unknown_key_action_is_a_config_error():
    from assistant.config import load_settings

    with pytest.raises(ConfigError, match="tui.keys"):
        load_settings(overrides={"tui": {"keys": {"launch_rockets": "ctrl+x"}}})
    assert load_settings(overrides={"tui": {"keys": {"help": "f10"}}}).tui.key_for("help") == "f10"


async def test_command_palette_offers_the_chat_commands():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.chat)]
        for title in ("New conversation", "Why this skill?", "Regenerate", "Pin skill: code", "Toggle sidebar"):
            assert title in titles
        command = next(c for c in app.get_system_commands(app.chat) if c.title == "Pin skill: code")
        await command.callback()
        assert app.chat.session.pinned == "code"
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="palette")
