"""Pilot tests of the chat screen: send, stream, cancel, regenerate, errors, queueing."""

from __future__ import annotations

import threading

from assistant.errors import ContextOverflowError
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.widgets.chat_message import AssistantMessage, NoteMessage, UserMessage

from .conftest import make_app, make_pipeline, ready, send, turn_idle, type_text, user_turns, wait_until

LONG = " ".join(f"word{i}" for i in range(400))


def replies(app) -> list[AssistantMessage]:
    return list(app.chat.query(AssistantMessage))


def notes(app) -> list[NoteMessage]:
    return list(app.chat.query(NoteMessage))


async def test_send_streams_a_reply_with_its_badge():
    app, pipe = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await send(pilot, "write a python function")
        await wait_until(pilot, lambda: turn_idle(app), what="reply")
        (reply,) = replies(app)
        assert reply.text == "You said: write a python function"
        assert reply.status == "complete"
        badge = reply.badge_text()
        model = pipe.registry.get("code").model_name(pipe.settings)
        assert badge.startswith(f"code · {model} · route 0.") and badge.endswith(" tok/s")
        assert app.chat.prompt.text == ""
        stored = pipe.store.messages(app.chat.session.conversation_id)
        assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
        assert stored[0].content == "write a python function" and stored[1].skill == "code"


async def test_enter_sends_and_ctrl_j_inserts_a_newline():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("a", "ctrl+j", "b")
        assert app.chat.prompt.text == "a\nb"
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(replies(app)) and turn_idle(app))
        assert user_turns(pipe) == ["a\nb"]


async def test_reply_streams_in_several_batches():
    # 400 tokens over about 2.4 s: long enough to be sampled several times on a busy machine.
    app, pipe = make_app(make_pipeline(script=[LONG], delay_s=0.006))
    seen: list[int] = []
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        while not turn_idle(app):
            if replies(app):
                seen.append(len(replies(app)[0].text))
            await pilot.pause(0.02)
        assert replies(app)[0].text == LONG
    partial = {n for n in seen if 0 < n < len(LONG)}
    assert len(partial) >= 3, f"expected the reply to appear progressively, saw lengths {sorted(partial)}"


async def test_escape_cancels_at_once_and_keeps_the_partial_reply():
    app, pipe = make_app(make_pipeline(script=[LONG, "next reply"], delay_s=0.01))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await wait_until(pilot, lambda: bool(replies(app)) and len(replies(app)[0].text) > 20, what="some text")
        await pilot.press("escape")
        reply = replies(app)[0]
        await wait_until(pilot, lambda: reply.status == "cancelled", timeout=0.5, what="cancelled mark")
        await wait_until(pilot, lambda: turn_idle(app), what="worker end")
        assert 0 < len(reply.text) < len(LONG)
        assert reply.has_class("cancelled")
        stored = pipe.store.messages(app.chat.session.conversation_id)[-1]
        # The store has what the model produced until it saw the cancel (at most a token more).
        assert stored.status == "cancelled" and LONG.startswith(stored.content) and stored.content.startswith(reply.text)
        # The next prompt works normally.
        await send(pilot, "again")
        await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == 2)
        assert replies(app)[1].text == "next reply" and replies(app)[1].status == "complete"


async def test_regenerate_replaces_the_last_reply():
    app, pipe = make_app(make_pipeline(script=["first answer", "second answer"]))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hi")  # the fake embedder routes it to chat (a model skill)
        await wait_until(pilot, lambda: turn_idle(app) and bool(replies(app)))
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: turn_idle(app) and replies(app)[-1].text == "second answer", what="regenerated")
        assert [r.text for r in replies(app)] == ["second answer"]
        assert [m.content for m in pipe.store.messages(app.chat.session.conversation_id) if m.role == "assistant"] == [
            "first answer", "second answer"]


async def test_copy_reply_puts_it_on_the_clipboard():
    app, pipe = make_app(make_pipeline(script=["copy me [bold]"]))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: turn_idle(app) and bool(replies(app)))
        await pilot.press("ctrl+o")
        assert app.clipboard == "copy me [bold]"


async def test_message_sent_during_warm_up_is_queued_not_lost():
    app, pipe = make_app(make_pipeline(warmup_s=0.8))
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.pipeline is not None, what="pipeline built")
        assert app.chat.session.components_loading
        await send(pilot, "early bird")
        user = app.chat.query(UserMessage).last()
        assert user.has_class("queued") and len(app.chat.session.queue) == 1 and not user_turns(pipe)
        assert "1 queued" in str(app.chat.status_bar.render())
        await wait_until(pilot, lambda: turn_idle(app) and bool(replies(app)), what="queued reply")
        assert replies(app)[0].text == "You said: early bird"
        assert not user.has_class("queued")


async def test_messages_typed_while_a_reply_streams_wait_their_turn():
    app, pipe = make_app(make_pipeline(script=[LONG, "two"], delay_s=0.002))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "tell me a fun fact about octopuses")
        await send(pilot, "hi, how are you today?")
        await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == 2, timeout=10)
        assert user_turns(pipe) == ["tell me a fun fact about octopuses", "hi, how are you today?"]
        assert replies(app)[1].text == "two"


async def test_side_effecting_tool_asks_for_confirmation():
    app, pipe = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        for text in ("remember the shopping list: milk", "remember to call mum"):
            await send(pilot, text)
            await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == len(user_turns(pipe)))
        await send(pilot, "forget everything")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirmation dialog")
        assert app.screen.question == "Forget all 2 notes and to-dos?"
        assert app.chat.session.active is not None  # the worker thread waits for the answer
        await pilot.press("escape")
        await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == 3)
        assert replies(app)[2].skill == "notes" and replies(app)[2].text == "Kept everything (not confirmed)."
        await send(pilot, "forget everything")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: turn_idle(app) and len(replies(app)) == 4)
        assert replies(app)[3].text == "Forgot all notes and to-dos."


async def test_quitting_while_a_confirmation_waits_refuses_it():
    app, pipe = make_app()
    answers: list[bool] = []
    async with app.run_test() as pilot:
        await ready(pilot)
        thread = threading.Thread(target=lambda: answers.append(app.confirm_from_thread("allow?")))
        thread.start()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        app.shutdown_work()
    thread.join(2)
    assert answers == [False]


async def test_pipeline_errors_become_chat_messages():
    def overflow(request):
        raise ContextOverflowError("the prompt takes 9000 tokens", "shorten the message")

    app, pipe = make_app(make_pipeline(script=overflow))
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "/skill chat")
        await send(pilot, "too long")
        await wait_until(pilot, lambda: turn_idle(app) and bool(replies(app)))
        reply = replies(app)[0]
        assert reply.status == "error" and reply.stats["error"] == "the prompt takes 9000 tokens"
        assert "shorten the message" in str(reply.query_one(".status").render())


async def test_a_crashing_pipeline_does_not_crash_the_app():
    def broken(*args, **kwargs):
        yield from ()
        raise RuntimeError("boom")

    pipe = make_pipeline()
    pipe.run_turn = broken  # a bug below the front end's contract
    app, pipe = make_app(pipe)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "hi")
        await wait_until(pilot, lambda: turn_idle(app) and bool(replies(app)))
        reply = replies(app)[0]
        assert reply.status == "error" and "RuntimeError: boom" in reply.stats["error"]
        await type_text(pilot, "still alive")
        assert app.chat.prompt.text == "still alive"


async def test_services_that_fail_to_start_are_reported_in_the_chat():
    from assistant.errors import ModelError
    from assistant.tui.app import AssistantApp

    def broken(confirm):
        raise ModelError("model file missing", "run `assistant models pull --defaults`")

    app = AssistantApp(broken)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: any(n.has_class("error") for n in notes(app)), what="error note")
        note = [n for n in notes(app) if n.has_class("error")][0]
        assert note.text == "model file missing" and "models pull" in note.hint
        await send(pilot, "hello")  # queued, not lost, not crashing
        assert len(app.chat.session.queue) == 1
