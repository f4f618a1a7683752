"""First-come, first-served turns per key (a model, a conversation).

llama.cpp contexts serve one generation at a time; a plain lock would let a late request
overtake an early one. Here each key has a FIFO of tickets: a request waits until it is at
the head, and leaving hands the turn to the next ticket.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator


class KeyedQueue:
    """FIFO mutual exclusion per key; keys come and go as requests do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[threading.Event]] = {}

    def depth(self, key: str) -> int:
        """Requests holding or waiting for ``key``."""
        with self._lock:
            return len(self._queues.get(key, ()))

    @contextmanager
    def hold(self, key: str | None) -> Iterator[None]:
        """Wait for the turn on ``key`` (no wait for ``None``) and keep it for the block."""
        if key is None:
            yield
            return
        ticket = threading.Event()
        with self._lock:
            queue = self._queues.setdefault(key, deque())
            queue.append(ticket)
            if len(queue) == 1:
                ticket.set()
        try:
            ticket.wait()
            yield
        finally:
            with self._lock:
                head = queue[0] is ticket
                queue.remove(ticket)
                if head and queue:
                    queue[0].set()
                if not queue:
                    del self._queues[key]
