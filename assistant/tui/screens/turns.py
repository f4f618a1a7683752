"""Turn bookkeeping shared by the chat screen: queued jobs, the active turn, event batching."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from assistant.events import ReplyFailed, ReplyFinished, TextDelta, TurnEvent
from assistant.tui.widgets.chat_message import AssistantMessage, UserMessage


@dataclass
class Job:
    """Something to send to the pipeline once it is free (and warm)."""

    kind: Literal["turn", "regen"]
    text: str = ""
    skill: str | None = None
    attachments: tuple[Path, ...] = ()
    user_widget: UserMessage | None = None
    correction_from: str | None = None  # set by /route: the skill the router had chosen


@dataclass
class ActiveTurn:
    """The one generation running now."""

    turn_id: int
    job: Job
    reply: AssistantMessage
    cancel: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False
    outcome: ReplyFinished | ReplyFailed | None = None


class Batcher:
    """Merges text deltas in the worker thread and hands them over at most every ``interval_s``.

    Textual's Markdown falls behind at about 20 appends a second; posting one message per
    token at full decode speed would also flood the UI's queue. Non-text events are handed
    over at once (with the text before them).
    """

    def __init__(self, emit: Callable[[list[TurnEvent]], None], interval_s: float) -> None:
        self._emit = emit
        self._interval = interval_s
        self._events: list[TurnEvent] = []
        self._text: list[str] = []
        self._last = 0.0

    def add(self, event: TurnEvent) -> None:
        if isinstance(event, TextDelta):
            self._text.append(event.text)
            if time.monotonic() - self._last >= self._interval:
                self.flush()
            return
        self._take_text()
        self._events.append(event)
        self.flush()

    def _take_text(self) -> None:
        if self._text:
            self._events.append(TextDelta("".join(self._text)))
            self._text.clear()

    def flush(self) -> None:
        self._take_text()
        if self._events:
            events, self._events = self._events, []
            self._last = time.monotonic()
            self._emit(events)
