"""What the HTTP routes call: turns on the pipeline, queued and run off the event loop.

Each turn runs in its own thread (the pipeline blocks; llama.cpp wants one thread per
generation) and hands its events to the event loop through a :class:`TurnThread`. Turns
queue first per conversation, then per model (first come, first served), so none is lost or
interleaved. Conversations: a turn continues the one it names; without a name, a request
whose earlier messages are a conversation this server answered continues it (see
:mod:`assistant.server.history`); otherwise a new conversation starts, holding the
request's earlier messages (``import_history``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
from typing import Iterator

from assistant.backends.base import ChatMessage
from assistant.errors import AssistantError
from assistant.events import ReplyFinished, RouteDecided, TurnEvent
from assistant.pipeline_api import ChatPipeline, SkillInfo
from assistant.server.history import HistoryIndex
from assistant.server.openai_api import TurnRequest
from assistant.server.queues import KeyedQueue
from assistant.server.settings import ServerSettings

log = logging.getLogger(__name__)


class AssistantService:
    """Skills, models and turns with queueing, for one server.

    Args:
        pipeline: the chat pipeline.
        api_key: clients must send it as a bearer token; None means no check (loopback only).
        options: the [server] settings.
    """

    def __init__(self, pipeline: ChatPipeline, *, api_key: str | None = None,
                 options: ServerSettings | None = None) -> None:
        self.pipeline = pipeline
        self.api_key = api_key
        self.options = options or ServerSettings()
        self.queues = KeyedQueue()
        self.index = HistoryIndex(self.options.remembered_histories)
        self.created = int(time.time())
        self._slots = threading.BoundedSemaphore(self.options.max_pending)
        self._pending = 0
        self._running: set[threading.Event] = set()
        self._lock = threading.Lock()

    def authorized(self, token: str | None) -> bool:
        if not self.api_key:
            return True
        return token is not None and hmac.compare_digest(token.encode(), self.api_key.encode())

    def skills(self) -> list[SkillInfo]:
        return list(self.pipeline.skills())

    @property
    def pending(self) -> int:
        """Turns admitted and not yet finished (running or queued)."""
        with self._lock:
            return self._pending

    @property
    def running(self) -> int:
        """Turns whose pipeline generator has not ended."""
        with self._lock:
            return len(self._running)

    def try_enter(self) -> bool:
        """Take a turn slot; False when ``max_pending`` turns are already in."""
        if not self._slots.acquire(blocking=False):
            return False
        with self._lock:
            self._pending += 1
        return True

    def leave(self) -> None:
        with self._lock:
            self._pending -= 1
        self._slots.release()

    def cancel_all(self) -> None:
        """Stop every running turn (shutdown); each stores its reply as cancelled."""
        with self._lock:
            for event in self._running:
                event.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no turn runs (after :meth:`cancel_all`); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.running and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.running

    def conversation_for(self, turn: TurnRequest) -> str | None:
        """The stored conversation this turn continues (a history the client brings that matches
        none is stored as a new one); None starts a new conversation."""
        if turn.conversation_id:
            return turn.conversation_id
        found = self.index.find(turn.history)
        if found or not turn.history:
            return found
        return self.pipeline.import_history(turn.history)

    def run(self, turn: TurnRequest, cancel: threading.Event) -> Iterator[TurnEvent]:
        """The turn's events, after waiting for the conversation's and the model's turn. Blocking."""
        with self._lock:
            self._running.add(cancel)
        try:
            conversation_id = self.conversation_for(turn)
            with self.queues.hold(f"conversation:{conversation_id}" if conversation_id else None):
                events = self.pipeline.run_turn(conversation_id, turn.text, skill=turn.skill, cancel=cancel,
                                                generation=turn.generation or None)
                try:
                    yield from self._queued(turn, events)
                finally:
                    events.close()
        finally:
            with self._lock:
                self._running.discard(cancel)

    def _queued(self, turn: TurnRequest, events: Iterator[TurnEvent]) -> Iterator[TurnEvent]:
        first = next(events, None)
        if first is None:
            return
        yield first
        if not isinstance(first, RouteDecided):
            yield from events
            return
        # The route is known before any token: wait for this model's turn, then generate.
        key = f"model:{first.model}" if first.model else f"skill:{first.route.skill}"
        with self.queues.hold(key):
            for event in events:
                if isinstance(event, ReplyFinished) and event.status == "complete" and event.conversation_id:
                    replied = turn.history + [ChatMessage("user", turn.text), ChatMessage("assistant", event.text)]
                    self.index.remember(replied, event.conversation_id)
                yield event


class TurnThread:
    """One turn on its own thread, read from the event loop with ``await next_event()``.

    :meth:`stop` (safe from anywhere, any number of times) cancels the turn; the thread still
    runs the pipeline to its end, so the reply is stored as cancelled. The turn's slot is
    taken by the caller (:meth:`AssistantService.try_enter`) and given back when the thread ends.
    """

    def __init__(self, service: AssistantService, turn: TurnRequest) -> None:
        self.cancel = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[TurnEvent | Exception | None] = asyncio.Queue()  # None: the end
        self._service = service
        self._turn = turn
        threading.Thread(target=self._work, name="assistant-turn", daemon=True).start()

    def _forward(self, item: TurnEvent | Exception | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop has closed: nobody is listening any more
            self.cancel.set()

    def _work(self) -> None:
        try:
            for event in self._service.run(self._turn, self.cancel):
                self._forward(event)
        except AssistantError as exc:  # e.g. an unknown conversation: the client is told, with the hint
            log.warning("a turn failed: %s", exc)
            self._forward(exc)
        except Exception as exc:  # a bug: the client gets an error, the log the traceback
            log.exception("a turn failed")
            self._forward(exc)
        finally:
            self._service.leave()
            self._forward(None)

    async def next_event(self) -> TurnEvent | None:
        """The next event; None once the turn has ended. Raises what the turn raised."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # later calls see the end too
        elif isinstance(item, Exception):
            raise item
        return item

    def stop(self) -> None:
        self.cancel.set()
