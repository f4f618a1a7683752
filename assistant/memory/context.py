"""Fitting a conversation into one model's context window.

The caller passes the model's own ``count_messages`` (its tokenizer and chat template), so
the same history is fitted correctly for models with different windows and templates when
consecutive turns go to different models. Counting is real tokenization and costs time, so
the number of calls is kept logarithmic in the length of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from assistant.backends.base import ChatMessage
from assistant.errors import ContextOverflowError

Counter = Callable[[list[ChatMessage]], int]
SUMMARY_HEADER = "Summary of the earlier part of this conversation:"


def _cut_points(history: Sequence[ChatMessage]) -> list[int]:
    """Where the kept part of the history may start, oldest first (the last is "none").

    It starts at a user message so that the turns stay paired; some chat templates (Gemma's,
    for one) reject a conversation that begins with an assistant turn.
    """
    points = [i for i, m in enumerate(history) if m.role == "user"]
    if not points or points[0] != 0:
        points.insert(0, 0)  # a first message that is not a user turn may still be kept whole
    points.append(len(history))
    return points


def with_summary(system: ChatMessage | None, summary: str) -> ChatMessage:
    """The system message with the rolling summary appended (one system message, since
    several system messages break some templates)."""
    block = f"{SUMMARY_HEADER}\n{summary.strip()}"
    if system is None:
        return ChatMessage("system", block)
    return ChatMessage("system", f"{system.content}\n\n{block}")


@dataclass(frozen=True)
class FitPlan:
    """What :func:`fit_plan` chose.

    Attributes:
        messages: the messages to send.
        start: index of the first ``history`` message sent verbatim (``len(history)`` when
            none is; 0 when nothing was dropped).
        summarised: whether the rolling summary was added to the system message.
    """

    messages: list[ChatMessage]
    start: int
    summarised: bool


def fit_messages(system: ChatMessage | None, history: list[ChatMessage], newest: ChatMessage,
                 **options: Any) -> list[ChatMessage]:
    """The messages to send: as much recent history as fits with room for the reply.

    The system prompt and ``newest`` are always kept; the oldest turns are dropped first.
    When turns are dropped and a ``summary`` of the earlier conversation is given, it is
    added to the system message if it fits.

    Args (``count`` and the rest are keywords, passed on to :func:`fit_plan`):
        system: the system prompt, or None.
        history: earlier messages, oldest first (without the system prompt and ``newest``).
        newest: the message being answered.
        count: the model's token counter for a list of messages (template included).
        n_ctx: the model's context window in tokens.
        reserve: tokens kept free for the reply.
        summary: a rolling summary of the conversation, used only when turns are dropped.
        summary_covers: how many leading ``history`` messages the summary stands for; with
            the summary in use, the verbatim part starts no earlier than that, so what is
            sent stays the same prefix from turn to turn (the KV cache can reuse it).

    Raises:
        ContextOverflowError: the system prompt, ``newest`` and ``reserve`` alone exceed
            the window.
    """
    return fit_plan(system, history, newest, **options).messages


def fit_plan(
    system: ChatMessage | None,
    history: list[ChatMessage],
    newest: ChatMessage,
    *,
    count: Counter,
    n_ctx: int,
    reserve: int,
    summary: str | None = None,
    summary_covers: int = 0,
) -> FitPlan:
    """Like :func:`fit_messages`, also saying where the verbatim history starts."""
    budget = n_ctx - reserve
    head = [system] if system is not None else []

    def build(start: int, summarised: bool) -> list[ChatMessage]:
        first = [with_summary(system, summary)] if summarised and summary else head
        return first + list(history[start:]) + [newest]

    def fits(msgs: list[ChatMessage]) -> bool:
        return budget > 0 and count(msgs) <= budget

    # The common case first: everything fits in one count.
    full = build(0, False)
    if fits(full):
        return FitPlan(full, 0, False)
    minimal = build(len(history), False)
    if not fits(minimal):
        _overflow(count(minimal), n_ctx, reserve, newest)
    use_summary = bool(summary and summary.strip()) and fits(build(len(history), True))
    points = _cut_points(history)
    if use_summary and summary_covers > 0:
        # What the summary stands for is never repeated; the first candidate may fit.
        points = [p for p in points if p >= summary_covers] or [len(history)]
        if fits(build(points[0], True)):
            return FitPlan(build(points[0], True), points[0], True)
    # Binary search for the earliest cut that fits. points[lo] is known not to fit (the
    # whole history did not, and a summary only adds), points[hi] is known to fit; the
    # answer returned was always counted, so it fits even if a template were not monotonic.
    lo, hi = 0, len(points) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(build(points[mid], use_summary)):
            hi = mid
        else:
            lo = mid
    return FitPlan(build(points[hi], use_summary), points[hi], use_summary)


def _overflow(tokens: int, n_ctx: int, reserve: int, newest: ChatMessage) -> None:
    room = max(0, n_ctx - reserve)
    raise ContextOverflowError(
        f"message too long: it needs {tokens} tokens with the system prompt, but this model's "
        f"window leaves {room} of its {n_ctx} tokens after keeping {reserve} for the reply",
        "shorten or split the message, attach long text as a file, or pick a model with a larger window",
    )
