"""The pipeline end to end with the in-package fakes: route -> skill -> model -> stream -> store."""

from __future__ import annotations

import threading

import pytest

from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.config import load_settings
from assistant.events import Progress, ReplyFailed, ReplyFinished, RouteDecided, TextDelta
from assistant.pipeline import build_pipeline


@pytest.fixture
def pipeline():
    p = build_pipeline(load_settings(), fake=True)
    yield p
    p.close()


def run(p, text, cid=None, **kw):
    events = list(p.run_turn(cid, text, **kw))
    assert isinstance(events[0], (RouteDecided, ReplyFailed))
    return events


def final(events):
    last = events[-1]
    assert isinstance(last, (ReplyFinished, ReplyFailed))
    return last


def test_turn_routes_streams_and_stores(pipeline):
    events = run(pipeline, "write a python function to reverse a list")
    route = events[0]
    assert route.route.skill == "code" and route.model == "qwen2.5-coder-0.5b"
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    done = final(events)
    assert done.status == "complete" and "".join(deltas) == done.text
    stored = pipeline.store.messages(done.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content == done.text and stored[1].skill == "code" and stored[1].status == "complete"
    assert stored[1].route_score == pytest.approx(route.route.score)
    assert pipeline.store.conversation(done.conversation_id).title


def test_deterministic_skill_needs_no_model(pipeline):
    done = final(run(pipeline, "what is 12 * (3 + 4)"))
    assert done.skill == "calculator" and done.text.strip() == "12 × (3 + 4) = 84"
    assert pipeline.models.loaded() == []


def test_forced_skill_and_unknown_skill(pipeline):
    events = run(pipeline, "hello there", skill="code")
    assert events[0].route.forced and events[0].route.skill == "code"
    failed = final(run(pipeline, "hello", skill="nope"))
    assert isinstance(failed, ReplyFailed) and "nope" in failed.error and failed.hint


def test_cancel_keeps_partial_reply_marked(pipeline):
    cancel = threading.Event()
    parts = []
    for ev in pipeline.run_turn(None, "tell me a long story about a dragon and a castle and a knight", skill="chat",
                                cancel=cancel):
        if isinstance(ev, TextDelta):
            parts.append(ev.text)
            if len(parts) == 2:
                cancel.set()
        last = ev
    assert last.status == "cancelled"
    stored = pipeline.store.messages(last.conversation_id)[-1]
    assert stored.status == "cancelled" and stored.content == "".join(parts) and stored.content
    # the next turn works
    assert final(run(pipeline, "hello again", cid=last.conversation_id, skill="chat")).status == "complete"


def test_skill_error_becomes_failed_reply_and_is_stored(pipeline, monkeypatch):
    skill = pipeline.registry.get("chat")

    def boom(ctx):
        yield "partial "
        raise RuntimeError("kaput")

    monkeypatch.setattr(skill, "handler", boom, raising=False)
    monkeypatch.setattr(skill, "respond", boom)
    failed = final(run(pipeline, "hi", skill="chat"))
    assert isinstance(failed, ReplyFailed)
    assert "kaput" in failed.error and failed.partial == "partial "
    stored = pipeline.store.messages(failed.conversation_id)[-1]
    assert stored.status == "error" and stored.content == "partial " and "kaput" in stored.error


def test_message_larger_than_window_is_clear_error(pipeline):
    failed = final(run(pipeline, "word " * 5000, skill="chat"))
    assert isinstance(failed, ReplyFailed)
    assert "too long" in failed.error and "Requested tokens" not in failed.error
    # the user message is still stored
    assert pipeline.store.messages(failed.conversation_id)[0].role == "user"


def test_history_reaches_the_model_and_is_fitted(pipeline):
    seen = []
    backend = FakeBackend("qwen2.5-coder-0.5b", script=lambda r: seen.append(r) or "ok", n_ctx=300)
    pipeline.models = ModelManager(pipeline.settings, factory=lambda n, a: backend)
    cid = None
    for i in range(12):
        cid = final(run(pipeline, f"turn {i} " + "blah " * 20, cid=cid, skill="chat")).conversation_id
    last = seen[-1].messages
    assert last[0].role == "system"
    assert last[-1].content.startswith("turn 11")
    assert backend.count_messages(last) + 150 <= 300  # the reply keeps half of a small window
    assert len(last) < 2 * 12


def test_regenerate_answers_last_user_message_again(pipeline):
    done = final(run(pipeline, "hello there", skill="chat"))
    again = list(pipeline.regenerate(done.conversation_id, skill="chat"))
    assert final(again).text == done.text
    roles = [m.role for m in pipeline.store.messages(done.conversation_id)]
    assert roles == ["user", "assistant", "assistant"]


def test_correction_is_saved_as_example(pipeline):
    pipeline.start()
    assert pipeline.router.wait_ready(60)
    pipeline.save_correction("notes", "jot this down for later please")
    assert pipeline.router.wait_ready(60)
    assert final(run(pipeline, "jot this down for later please")).skill == "notes"


def test_components_report_embedder_models_and_memory(pipeline):
    pipeline.start()
    names = [c.name for c in pipeline.components()]
    assert names[0] == "embedder" and names[-1] == "memory"
    run(pipeline, "hi", skill="chat")
    states = {c.name: c.state for c in pipeline.components()}
    assert states["qwen2.5-coder-0.5b"] == "ready"


def test_progress_events_pass_through(pipeline, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("A sentence about apples. " * 3000)
    events = run(pipeline, f"summarize {doc}", skill="summarize", attachments=(doc,))
    assert final(events).status == "complete"
    assert any(isinstance(e, Progress) for e in events)


def test_import_history(pipeline):
    from assistant.backends.base import ChatMessage

    cid = pipeline.import_history([ChatMessage("user", "a"), ChatMessage("assistant", "b")])
    assert [m.content for m in pipeline.store.messages(cid)] == ["a", "b"]


def test_start_marks_replies_left_streaming_by_a_dead_run(tmp_path):
    settings = load_settings()
    first = build_pipeline(settings, fake=True)
    cid = first.store.create_conversation()
    first.store.add_message(cid, "user", "hi")
    reply = first.store.start_reply(cid, skill="chat")
    first.store.transaction(lambda c: c.execute("UPDATE messages SET created_at = '2000-01-01T00:00:00+00:00' WHERE id = ?",
                                           (reply,)))
    first.close()  # the "crash": the reply was never finished
    second = build_pipeline(settings, fake=True)
    second.start()
    stored = second.store.messages(cid)[-1]
    assert stored.status == "cancelled" and "interrupted" in stored.error
    second.close()


_CHILD = """
import sys
from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.config import load_settings
from assistant.events import TextDelta
from assistant.pipeline import build_pipeline

settings = load_settings()
p = build_pipeline(settings, fake=True)
story = " ".join(f"word{i}" for i in range(2000))
p.models = ModelManager(settings, factory=lambda name, adapter: FakeBackend(name, script=[story], delay_s=0.01))
for ev in p.run_turn(None, "tell me a very long story", skill="chat"):
    if isinstance(ev, TextDelta):
        sys.stdout.write(ev.text)
        sys.stdout.flush()
"""


def test_a_reply_killed_mid_stream_keeps_the_text_shown(isolated_home, tmp_path):
    """SIGKILL mid-reply: the text streamed up to the last checkpoint is stored, then marked
    interrupted on the next start (RELIABILITY: no conversation is lost)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from assistant.memory.store import Store

    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, env=dict(os.environ))
    shown = b""
    deadline = time.monotonic() + 60
    while len(shown.split()) < 150 and time.monotonic() < deadline:  # ~1.5 s of streaming: checkpoints happened
        shown += os.read(child.stdout.fileno(), 4096)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert len(shown.split()) >= 150, "the child streamed too little before the deadline"
    settings = load_settings()
    store = Store.open(settings.db_path)
    try:
        (conv,) = store.list_conversations()
        reply = store.messages(conv.id)[-1]
        assert reply.role == "assistant" and reply.status == "streaming"
        saved = reply.content
        assert saved and shown.decode().startswith(saved)  # a prefix of what was shown ...
        assert len(saved.split()) >= 50  # ... and most of it (checkpoints every 0.5 s)
        assert store.recover_interrupted(older_than_s=0) == 1
        again = store.messages(conv.id)[-1]
        assert again.status == "cancelled" and again.content == saved and "interrupted" in again.error
    finally:
        store.close()


def test_close_stops_the_document_indexer(isolated_home):
    p = build_pipeline(load_settings(), fake=True)
    docs = p.registry.get("docs")
    assert "docs" in p._recall_extra(docs, "c1")  # the docs skill gets search: the service exists now
    service = p._docs
    p.close()
    assert service._stop.is_set() and not service.busy


def test_components_name_an_adapted_model_without_the_managers_path_hash(pipeline, tmp_path):
    pipeline.models.get("gemma-3-270m", tmp_path / "classify-gemma-3-270m.lora.gguf")
    names = [c.name for c in pipeline.components()]
    assert "gemma-3-270m+classify-gemma-3-270m.lora.gguf" in names and not any("@" in n for n in names)
