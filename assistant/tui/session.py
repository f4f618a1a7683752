"""The state of one chat, apart from how it is drawn: which conversation is open, the pinned
skill, attachments waiting for the next message, the queue and the one turn running.

It holds the reply widget a turn writes into but none of the drawing, so its rules (what waits, what starts next, what a
new conversation resets) are tested without an app (tests/tui/test_session.py).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from assistant.tui.screens.turns import ActiveTurn, Job
from assistant.tui.widgets.chat_message import AssistantMessage


@dataclass
class ChatSession:
    """One chat's state.

    Attributes:
        conversation_id: the stored conversation shown (None: the next message starts one).
        pinned: the skill every message goes to (``/skill``), or None to route.
        pending_attachments: files that go with the next message.
        queue: messages waiting for the pipeline (warming up, or busy with ``active``).
        active: the turn streaming now.
        services_ready: the pipeline was built; ``components_loading``: a model or the
            embedder is still loading (turns wait for it).
    """

    conversation_id: str | None = None
    pinned: str | None = None
    pending_attachments: list[Path] = field(default_factory=list)
    queue: deque[Job] = field(default_factory=deque)
    active: ActiveTurn | None = None
    services_ready: bool = False
    components_loading: bool = True
    _turn_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def must_wait(self) -> bool:
        """Would a message sent now wait in the queue?"""
        return self.active is not None or not self.services_ready or self.components_loading or bool(self.queue)

    def take_attachments(self, extra: tuple[Path, ...] = ()) -> tuple[Path, ...]:
        """The files for the message being sent (they go with it and are no longer pending)."""
        files = tuple(self.pending_attachments) + tuple(extra)
        self.pending_attachments.clear()
        return files

    def claim_next(self, reply: AssistantMessage) -> ActiveTurn | None:
        """Make the next queued job the active turn (answered into ``reply``), when nothing
        runs and nothing loads; None otherwise. Claimed synchronously, so two calls can never
        start two generations."""
        if self.active is not None or not self.queue or not self.services_ready or self.components_loading:
            return None
        self.active = ActiveTurn(next(self._turn_ids), self.queue.popleft(), reply)
        return self.active

    def is_current(self, turn_id: int) -> bool:
        return self.active is not None and self.active.turn_id == turn_id

    def cancel(self) -> ActiveTurn | None:
        """Stop the active turn (it keeps its partial reply); the turn, or None if none ran."""
        turn = self.active
        if turn is None or turn.cancelled:
            return None
        turn.cancelled = True
        turn.cancel.set()
        return turn

    def start_over(self, conversation_id: str | None = None) -> None:
        """A new (or another stored) conversation: nothing pinned any more."""
        self.conversation_id, self.pinned = conversation_id, None
