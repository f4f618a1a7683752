"""The chat's state without an app: what waits, what starts next, what a new conversation resets."""

from __future__ import annotations

from pathlib import Path

from assistant.tui import commands
from assistant.tui.screens.chat_commands import ChatCommands
from assistant.tui.screens.turns import Job
from assistant.tui.session import ChatSession


def ready_session() -> ChatSession:
    return ChatSession(services_ready=True, components_loading=False)


def test_nothing_starts_before_the_services_are_ready_or_while_a_model_loads():
    session = ChatSession()
    session.queue.append(Job("turn", "early"))
    assert session.must_wait() and session.claim_next("reply") is None
    session.services_ready = True
    assert session.claim_next("reply") is None  # still loading
    session.components_loading = False
    turn = session.claim_next("reply")
    assert turn is not None and turn.job.text == "early" and turn.reply == "reply" and not session.queue


def test_one_turn_at_a_time_in_order():
    session = ready_session()
    session.queue.extend([Job("turn", "one"), Job("turn", "two")])
    first = session.claim_next("r1")
    assert first is not None and session.claim_next("r2") is None  # the first is still running
    assert session.must_wait() and session.is_current(first.turn_id)
    session.active = None
    second = session.claim_next("r2")
    assert second is not None and second.job.text == "two" and second.turn_id > first.turn_id
    assert not session.is_current(first.turn_id)


def test_cancel_marks_the_active_turn_once():
    session = ready_session()
    assert session.cancel() is None
    session.queue.append(Job("turn", "go"))
    turn = session.claim_next("reply")
    assert session.cancel() is turn and turn.cancelled and turn.cancel.is_set()
    assert session.cancel() is None  # already cancelled


def test_attachments_go_with_one_message(tmp_path: Path):
    session = ready_session()
    session.pending_attachments.append(tmp_path / "a.txt")
    assert session.take_attachments((tmp_path / "b.txt",)) == (tmp_path / "a.txt", tmp_path / "b.txt")
    assert session.take_attachments() == ()


def test_a_new_conversation_unpins_the_skill():
    session = ready_session()
    session.conversation_id, session.pinned = "c1", "code"
    session.start_over()
    assert (session.conversation_id, session.pinned) == (None, None)
    session.pinned = "code"
    session.start_over("c2")
    assert (session.conversation_id, session.pinned) == ("c2", None)


def test_every_slash_command_has_exactly_one_handler():
    class View:
        session = ready_session()

    table = ChatCommands(View()).handlers  # type: ignore[arg-type]  # the handlers are not called
    assert set(table) == {c.name for c in commands.COMMANDS}
