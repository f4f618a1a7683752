"""The rolling summary: what the turns that no longer fit a model's window said.

The pipeline fits each turn to the chosen model's window (:func:`fit_plan`). When that drops
older turns, the stored summary stands in for them. After the reply is committed, if the
dropped part has grown well past what the summary covers, :class:`Summariser` writes an
updated summary in a background thread with a small model and stores it. Updates come in
chunks (a new summary covers more than was dropped, ``[memory] summary_headroom``), so the
prompt prefix stays the same for several turns and the model's KV cache stays useful.
A failure to summarise is logged and never reaches the user's turn.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

from assistant.backends.base import ChatMessage, GenerationRequest

if TYPE_CHECKING:
    from assistant.backends.manager import ModelManager
    from assistant.config import Settings

log = logging.getLogger(__name__)
PROMPT_FILE = Path(__file__).resolve().parents[2] / "prompts" / "conversation_summary.txt"
_FALLBACK_PROMPT = "Summarize the earlier conversation briefly: goals, facts, decisions, open questions."
MIN_TURN_CHARS = 48  # turns are cut no shorter than this before the oldest are left out


class SummaryStore(Protocol):
    """What the summariser writes to (:class:`assistant.memory.store.Store`)."""

    def set_summary(self, conversation_id: str, summary: str | None,
                    through_message_id: str | None = None) -> None: ...


@dataclass(frozen=True)
class SummaryJob:
    """One summary update.

    Attributes:
        conversation_id: the conversation.
        previous: the summary so far, or None.
        turns: (role, content) of the messages the new summary adds, oldest first.
        through: id of the last message the new summary covers.
    """

    conversation_id: str
    previous: str | None
    turns: tuple[tuple[str, str], ...]
    through: str


def covered(history_ids: Sequence[str], summary_through: str | None) -> int:
    """How many leading history messages a summary through ``summary_through`` covers
    (0 when it names no message of this history, e.g. after a deletion)."""
    if not summary_through:
        return 0
    try:
        return list(history_ids).index(summary_through) + 1
    except ValueError:
        return 0


def plan_update(conversation_id: str, history: Sequence[ChatMessage], history_ids: Sequence[str],
                previous: str | None, covers: int, dropped: int, target: int,
                min_messages: int) -> SummaryJob | None:
    """The update to run after a turn, or None when the summary is good enough.

    Args:
        history: the conversation before the turn (what was fitted).
        history_ids: the stored ids of ``history``.
        previous: the stored summary.
        covers: leading messages the stored summary covers.
        dropped: leading messages the turn's fitting did not send verbatim.
        target: leading messages a chunked update should cover (``>= dropped``).
        min_messages: fewest new messages worth an update.
    """
    if dropped <= covers:
        return None  # the summary already stands for everything left out
    upto = min(max(target, dropped), len(history))
    if upto - covers < min_messages:
        return None
    turns = tuple((m.role, m.content) for m in history[covers:upto])
    return SummaryJob(conversation_id, previous, turns, history_ids[upto - 1])


def summary_prompt() -> str:
    try:
        return PROMPT_FILE.read_text(encoding="utf-8").strip()
    except OSError:
        return _FALLBACK_PROMPT


def transcript(previous: str | None, turns: Sequence[tuple[str, str]], limit: int | None = None) -> str:
    """The user message for the summariser: old summary, then the new turns (each cut to
    ``limit`` characters when given)."""
    old = (previous or "").strip() or "(none yet)"
    lines = [f"{role}: {content if limit is None or len(content) <= limit else content[:limit] + ' …'}"
             for role, content in turns]
    return f"Summary so far:\n{old}\n\nLater turns:\n" + "\n".join(lines)


class Summariser:
    """Writes summaries in the background, one conversation at a time.

    Args:
        settings: the configuration ([memory] summary_* keys).
        models: the model manager (the summary model is loaded through it).
        store: the conversation store (``set_summary``).
    """

    def __init__(self, settings: "Settings", models: "ModelManager", store: SummaryStore) -> None:
        self.settings = settings
        self.models = models
        self.store = store
        self._lock = threading.Lock()
        self._running: dict[str, threading.Thread] = {}
        self._cancels: dict[str, threading.Event] = {}
        self.failures = 0  # updates that failed (logged); tests and status read it

    @property
    def model(self) -> str:
        return self.settings.memory.summary_model or self.settings.default_model

    def schedule(self, job: SummaryJob) -> bool:
        """Start ``job`` in a daemon thread; False if one runs for that conversation."""
        with self._lock:
            if job.conversation_id in self._running:
                return False
            thread = threading.Thread(target=self._run, args=(job,), name="summary", daemon=True)
            self._running[job.conversation_id] = thread
            self._cancels[job.conversation_id] = threading.Event()
        thread.start()
        return True

    def after_turn(self, conversation_id: str, history: Sequence[ChatMessage], history_ids: Sequence[str], *,
                   summary: str | None, covers: int, dropped: int, target: int) -> bool:
        """Start an update when the dropped part has outgrown the stored summary (see
        :func:`plan_update`); True if one was started. Never raises: the turn is done."""
        if not self.settings.memory.summary_enabled:
            return False
        try:
            job = plan_update(conversation_id, history, history_ids, summary, covers, dropped, target,
                              self.settings.memory.summary_min_messages)
            return job is not None and self.schedule(job)
        except Exception:
            log.exception("could not plan a summary update for %s", conversation_id)
            return False

    def interrupt(self) -> None:
        """Stop summaries being written (a new turn starts and needs the CPU and the model);
        an interrupted update stores nothing and is planned again after a later turn."""
        with self._lock:
            for event in self._cancels.values():
                event.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for running updates; True when none is left."""
        with self._lock:
            threads = list(self._running.values())
        for t in threads:
            t.join(timeout)
        with self._lock:
            return not self._running

    def _run(self, job: SummaryJob) -> None:
        try:
            self.run(job)
        except Exception:
            self.failures += 1
            log.exception("updating the summary of conversation %s failed", job.conversation_id)
        finally:
            with self._lock:
                self._running.pop(job.conversation_id, None)
                self._cancels.pop(job.conversation_id, None)

    def run(self, job: SummaryJob) -> str | None:
        """Write and store the summary now; returns it (None when the model gave nothing)."""
        backend = self.models.get(self.model)
        max_tokens = min(self.settings.memory.summary_max_tokens, max(16, backend.n_ctx // 4))
        system = ChatMessage("system", summary_prompt())
        budget = backend.n_ctx - max_tokens
        turns, limit = list(job.turns), None
        longest = max((len(c) for _, c in turns), default=0)
        while True:  # long turns are cut, then the oldest left out: the window is never overrun
            messages = [system, ChatMessage("user", transcript(job.previous, turns, limit))]
            if not turns or backend.count_messages(messages) <= budget:
                break
            if limit is None or limit > MIN_TURN_CHARS:
                limit = max(MIN_TURN_CHARS, (limit or longest) // 2)
            else:
                turns = turns[1:]
        with self._lock:
            cancel = self._cancels.get(job.conversation_id) or threading.Event()
        request = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=0.2, cache_key=None,
                                    cancel=cancel)
        text = backend.stream(request).text().strip()
        if cancel.is_set():
            log.info("summary of conversation %s interrupted by a new turn", job.conversation_id)
            return None
        if not text:
            log.warning("the summary model returned nothing for conversation %s", job.conversation_id)
            return None
        self.store.set_summary(job.conversation_id, text, job.through)
        return text
