"""The rolling summary through the pipeline, with fake models of tiny and large windows."""

from __future__ import annotations

import itertools

from assistant.backends.base import ChatMessage
from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.config import load_settings
from assistant.events import ReplyFinished
from assistant.memory.context import SUMMARY_HEADER
from assistant.memory.summary import SummaryJob, covered, plan_update
from assistant.pipeline import build_pipeline

SMALL, LARGE, SUMMARY_MODEL = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "gemma-3-270m"


class Models:
    """One FakeBackend per model name, with the windows and scripts a test asks for."""

    def __init__(self, windows: dict[str, int], summary_script) -> None:
        self.backends: dict[str, FakeBackend] = {}
        self.windows = windows
        self.summary_script = summary_script
        self.summary_delay = 0.0

    def __call__(self, name: str, adapter) -> FakeBackend:
        if name == SUMMARY_MODEL:
            backend = FakeBackend(name, script=self.summary_script, n_ctx=2048, delay_s=self.summary_delay)
        else:
            backend = FakeBackend(name, script=lambda r: "ok", n_ctx=self.windows.get(name, 2048))
        self.backends[name] = backend
        return backend

    def requests(self, name: str):
        return self.backends[name].requests if name in self.backends else []


def make(windows: dict[str, int], summary_script, default_model: str = SMALL, **memory):
    settings = load_settings(overrides={"default_model": default_model,
                                        "memory": {"summary_model": SUMMARY_MODEL, **memory}})
    pipeline = build_pipeline(settings, fake=True)
    models = Models(windows, summary_script)
    pipeline.models = ModelManager(settings, factory=models)
    pipeline.summaries.models = pipeline.models
    return pipeline, models


def turn(pipeline, cid, i, skill="chat"):
    events = list(pipeline.run_turn(cid, f"turn {i} " + "blah " * 20, skill=skill))
    done = events[-1]
    assert isinstance(done, ReplyFinished) and done.status == "complete", done
    pipeline.summaries.wait_idle(10)
    return done.conversation_id


def numbered_summary():
    count = {"n": 0}

    def script(request):
        count["n"] += 1
        return f"SUMMARY-{count['n']}: the user sent numbered turns"
    return script


def test_long_conversation_is_summarised_in_chunks_and_the_summary_is_sent():
    pipeline, models = make({SMALL: 300}, numbered_summary())
    cid = None
    for i in range(16):
        cid = turn(pipeline, cid, i)
    conv = pipeline.store.conversation(cid)
    stored = pipeline.store.messages(cid)
    # Nothing is lost from the store, whatever the model was sent.
    assert [m.role for m in stored] == ["user", "assistant"] * 16
    assert [m.content for m in stored[::2]] == [f"turn {i} " + "blah " * 20 for i in range(16)]
    # A summary was written and stored, through a stored message.
    updates = models.requests(SUMMARY_MODEL)
    assert conv.summary and conv.summary.startswith("SUMMARY-")
    assert conv.summary_through in [m.id for m in stored]
    # Updated in chunks, not on every turn that dropped something.
    chat = models.requests(SMALL)
    dropped_turns = sum(1 for r in chat if not r.messages[1].content.startswith("turn 0 "))
    assert 2 <= len(updates) < dropped_turns
    # Each update was short, bounded and was handed the previous summary.
    assert all(r.max_tokens <= pipeline.settings.memory.summary_max_tokens and r.cache_key is None for r in updates)
    assert "SUMMARY-1" in updates[1].messages[-1].content
    # The next prompt: the system prompt with the summary, verbatim recent turns, the newest turn.
    cid = turn(pipeline, cid, 16)
    last = chat[-1].messages
    assert last[0].role == "system" and SUMMARY_HEADER in last[0].content
    assert pipeline.store.conversation(cid).summary in last[0].content or "SUMMARY-" in last[0].content
    assert last[0].content.startswith(pipeline.registry.get("chat").prompt_template.split("{")[0][:20])
    assert last[-1].content.startswith("turn 16 ")
    # What the summary covers is not repeated verbatim.
    covers = covered([m.id for m in stored], pipeline.store.conversation(cid).summary_through)
    sent = {m.content for m in last[1:]}
    assert not sent & {m.content for m in stored[:covers] if m.role == "user"}
    assert models.backends[SMALL].count_messages(last) <= 300 - 150
    pipeline.close()


def test_prompt_prefix_is_stable_between_summary_updates():
    pipeline, models = make({SMALL: 300}, numbered_summary())
    cid = None
    for i in range(16):
        cid = turn(pipeline, cid, i)
    chat = models.requests(SMALL)
    # Between updates the next prompt extends the previous one (a KV-cache prefix hit).
    extends = sum(1 for a, b in itertools.pairwise(chat) if b.messages[:len(a.messages) - 1] == a.messages[:-1]
                  and SUMMARY_HEADER in a.messages[0].content)
    assert extends >= 2
    assert all(r.cache_key == cid for r in chat)
    pipeline.close()


def test_a_failing_summariser_never_breaks_the_turn(caplog):
    def boom(request):
        raise RuntimeError("summary model crashed")

    pipeline, models = make({SMALL: 300}, boom)
    cid = None
    for i in range(12):
        cid = turn(pipeline, cid, i)  # every turn still completes
    assert pipeline.summaries.failures >= 1
    assert "summary" in caplog.text.lower()
    assert pipeline.store.conversation(cid).summary is None
    assert len(pipeline.store.messages(cid)) == 24
    pipeline.close()


def test_summary_model_that_cannot_load_only_logs():
    pipeline, models = make({SMALL: 300}, numbered_summary(), summary_model="no-such-model")
    cid = None
    for i in range(10):
        cid = turn(pipeline, cid, i)
    assert pipeline.summaries.failures >= 1 and pipeline.store.conversation(cid).summary is None
    pipeline.close()


def test_turns_alternating_between_small_and_large_windows():
    # chat runs on the default model (large window), code on qwen2.5-coder-0.5b (tiny window).
    pipeline, models = make({SMALL: 300, LARGE: 4096}, numbered_summary(), default_model=LARGE)
    cid = None
    texts = []
    for i in range(16):
        texts.append(f"turn {i} " + "blah " * 20)
        cid = turn(pipeline, cid, i, skill="chat" if i % 2 else "code")
    small, large = models.requests(SMALL), models.requests(LARGE)
    assert len(small) == len(large) == 8
    summary = pipeline.store.conversation(cid).summary
    assert summary  # the small window dropped turns and they were summarised
    for r in small:  # each request fits the small model with room for the reply
        assert models.backends[SMALL].count_messages(r.messages) <= 300 - 150
    # The large model sees the whole conversation verbatim, no summary needed.
    for r in large:
        assert SUMMARY_HEADER not in r.messages[0].content
        assert [m.content for m in r.messages if m.role == "user"] == texts[:len(r.messages) // 2]
    # The small model gets the summary once turns are dropped, and always the newest turn.
    assert SUMMARY_HEADER in small[-1].messages[0].content and "SUMMARY-" in small[-1].messages[0].content
    assert small[-1].messages[-1].content == texts[14]
    assert len(small[-1].messages) < len(large[-1].messages)
    pipeline.close()


def test_plan_update_waits_for_enough_new_dropped_messages():
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(10)]
    ids = [f"id{i}" for i in range(10)]
    assert plan_update("c", history, ids, None, 0, 0, 0, 4) is None  # nothing dropped
    assert plan_update("c", history, ids, "s", 6, 4, 8, 4) is None  # the summary covers the dropped part
    assert plan_update("c", history, ids, None, 0, 2, 2, 4) is None  # too little to be worth an update
    job = plan_update("c", history, ids, "old", 2, 4, 8, 4)
    assert job == SummaryJob("c", "old", tuple((m.role, m.content) for m in history[2:8]), "id7")
    assert covered(ids, "id7") == 8 and covered(ids, "gone") == 0 and covered(ids, None) == 0


def test_summariser_never_overruns_its_window(store):
    from assistant.memory.summary import Summariser

    settings = load_settings(overrides={"memory": {"summary_model": SUMMARY_MODEL}})
    backend = FakeBackend(SUMMARY_MODEL, script=lambda r: "short summary", n_ctx=256)
    summariser = Summariser(settings, ModelManager(settings, factory=lambda n, a: backend), store)
    cid = store.create_conversation()
    last = store.add_message(cid, "user", "x")
    turns = tuple(("user" if i % 2 == 0 else "assistant", "word " * 400) for i in range(12))
    assert summariser.run(SummaryJob(cid, "old summary", turns, last)) == "short summary"
    request = backend.requests[-1]
    assert backend.count_messages(request.messages) + request.max_tokens <= 256
    assert "old summary" in request.messages[-1].content and "word" in request.messages[-1].content
    conv = store.conversation(cid)
    assert (conv.summary, conv.summary_through) == ("short summary", last)


def test_a_new_turn_interrupts_a_summary_being_written():
    started = []

    def slow(request):
        started.append(request)
        return "word " * 500

    pipeline, models = make({SMALL: 300}, slow)
    models.summary_delay = 0.02
    cid = None
    for i in range(8):
        events = list(pipeline.run_turn(cid, f"turn {i} " + "blah " * 20, skill="chat"))
        cid = events[-1].conversation_id
        assert events[-1].status == "complete"
    # Summaries were started and cut short by the next turn; none of them wrote a half summary.
    assert started
    pipeline.summaries.interrupt()
    assert pipeline.summaries.wait_idle(10)
    # Each would take 4 s (200 tokens x 20 ms); every one was interrupted, so none was stored.
    assert pipeline.store.conversation(cid).summary is None
    assert pipeline.summaries.failures == 0  # an interruption is not a failure
    assert len(pipeline.store.messages(cid)) == 16
    pipeline.close()
