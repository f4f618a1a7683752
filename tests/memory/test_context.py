"""Context fitting (RELIABILITY.md row 5): what is sent always fits, keeps the system prompt
and the newest turn, or the user gets a clear "message too long" error."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.backends.base import ChatMessage
from assistant.backends.fake import FakeBackend
from assistant.errors import ContextOverflowError
from assistant.memory.context import SUMMARY_HEADER, fit_messages


class Counter:
    """A template-like counter: per-message overhead plus one token per word (or per
    ``chars`` characters), recording how often it was called."""

    def __init__(self, overhead: int = 4, chars: int | None = None) -> None:
        self.overhead, self.chars, self.calls = overhead, chars, 0

    def __call__(self, msgs: list[ChatMessage]) -> int:
        self.calls += 1
        size = (lambda t: math.ceil(len(t) / self.chars)) if self.chars else (lambda t: len(t.split()))
        return 3 + sum(self.overhead + size(m.content) for m in msgs)


words = st.text(alphabet="abc xyz", min_size=0, max_size=120)
turns = st.lists(st.tuples(words, words), max_size=30)


@st.composite
def conversation(draw):
    pairs = draw(turns)
    history = [m for u, a in pairs for m in (ChatMessage("user", u), ChatMessage("assistant", a))]
    if draw(st.booleans()) and history:
        history = history[: draw(st.integers(0, len(history)))]
    system = ChatMessage("system", draw(words)) if draw(st.booleans()) else None
    newest = ChatMessage("user", draw(st.text(alphabet="ab ", max_size=400)))
    return system, history, newest


@settings(max_examples=400, deadline=None)
@given(conversation(), st.integers(16, 600), st.integers(0, 200), st.sampled_from([(4, None), (10, 3), (1, 1)]),
       st.one_of(st.none(), words))
def test_what_is_sent_fits_and_keeps_system_and_newest(conv, n_ctx, reserve, shape, summary) -> None:
    system, history, newest = conv
    count = Counter(*shape)
    budget = n_ctx - reserve
    base = ([system] if system else []) + [newest]
    try:
        out = fit_messages(system, history, newest, count=count, n_ctx=n_ctx, reserve=reserve, summary=summary)
    except ContextOverflowError as exc:
        assert budget <= 0 or Counter(*shape)(base) > budget
        assert exc.message.startswith("message too long") and exc.hint
        return
    calls = count.calls
    assert Counter(*shape)(out) <= budget
    assert out[-1] == newest
    kept = out[1:-1] if out[0].role == "system" and (system or out[0].content.startswith(SUMMARY_HEADER)) else out[:-1]
    if system is not None:
        assert out[0].role == "system" and out[0].content.startswith(system.content)
    # The kept history is the most recent part, whole and in order.
    assert kept == history[len(history) - len(kept):]
    if len(kept) < len(history):
        assert not kept or kept[0].role == "user"
        # Nothing more could have been kept: the next longer user-started suffix overflows.
        longer = [i for i, m in enumerate(history) if m.role == "user" and i < len(history) - len(kept)]
        if longer:
            first = out[:1] if out[0].role == "system" else []
            assert Counter(*shape)(first + history[longer[-1]:] + [newest]) > budget
    else:
        assert out == ([system] if system else []) + history + [newest]
    # Counting is real tokenization: logarithmic, not linear, in the history length.
    assert calls <= 4 + math.ceil(math.log2(len(history) + 2))


def test_one_message_larger_than_the_window_is_a_clear_error() -> None:
    backend = FakeBackend("tiny", n_ctx=256)
    huge = ChatMessage("user", "word " * 5000)
    with pytest.raises(ContextOverflowError, match="message too long") as err:
        fit_messages(ChatMessage("system", "be brief"), [], huge, count=backend.count_messages,
                     n_ctx=backend.n_ctx, reserve=64)
    assert "shorten" in err.value.hint


def test_summary_replaces_dropped_turns() -> None:
    count = Counter()
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", "w " * 20) for i in range(20)]
    system = ChatMessage("system", "you help")
    out = fit_messages(system, history, ChatMessage("user", "now?"), count=count, n_ctx=150, reserve=20,
                       summary="we discussed w")
    assert out[0].content.startswith("you help") and "we discussed w" in out[0].content
    assert 0 < len(out) - 2 < len(history)
    # Nothing dropped: no summary added.
    out2 = fit_messages(system, history[:2], ChatMessage("user", "now?"), count=count, n_ctx=1000, reserve=20,
                        summary="we discussed w")
    assert out2[0] == system


def test_same_history_fits_two_models_with_different_windows() -> None:
    """A hand-off between skills: each model gets as much as its own window allows."""
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", f"turn {i} " + "lorem ipsum " * 30)
               for i in range(40)]
    newest = ChatMessage("user", "and so?")
    small, large = FakeBackend("small", n_ctx=512), FakeBackend("large", n_ctx=4096)
    fitted = {}
    for b in (small, large):
        out = fit_messages(None, history, newest, count=b.count_messages, n_ctx=b.n_ctx, reserve=128)
        assert b.count_messages(out) <= b.n_ctx - 128 and out[-1] == newest
        fitted[b.name] = len(out)
    assert fitted["small"] < fitted["large"]
