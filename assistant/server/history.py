"""Maps the message history an OpenAI client re-sends to the stored conversation it is.

Clients of the chat-completions API are stateless: every request carries the whole
conversation. After each finished reply the server remembers a digest of
``history + [user message, reply]``; a later request whose earlier messages have that digest
continues the same stored conversation. System messages do not count (clients resend their
own; skills bring theirs), and whitespace at the ends of a message is ignored.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict

from assistant.backends.base import ChatMessage


def digest(messages: list[ChatMessage]) -> str:
    """A stable fingerprint of the user/assistant messages."""
    rows = [[m.role, m.content.strip()] for m in messages if m.role in ("user", "assistant")]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


class HistoryIndex:
    """An LRU map from history digests to conversation ids (in memory, per server run).

    Args:
        capacity: how many histories to remember; 0 disables the mapping.
    """

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self._map: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, history: list[ChatMessage]) -> str | None:
        """The conversation whose stored messages are ``history``, if remembered."""
        if not history:
            return None
        key = digest(history)
        with self._lock:
            cid = self._map.get(key)
            if cid is not None:
                self._map.move_to_end(key)
            return cid

    def remember(self, history: list[ChatMessage], conversation_id: str) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._map[digest(history)] = conversation_id
            self._map.move_to_end(digest(history))
            while len(self._map) > self.capacity:
                self._map.popitem(last=False)
