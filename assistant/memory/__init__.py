"""Conversation memory: the SQLite store, context fitting and titles.

Public API::

    from assistant.memory import Store, fit_messages, title_from_text
"""

from __future__ import annotations

from assistant.memory.context import fit_messages
from assistant.memory.records import Conversation, Message, SearchHit
from assistant.memory.store import Store
from assistant.memory.titles import title_from_text

__all__ = ["Conversation", "Message", "SearchHit", "Store", "fit_messages", "title_from_text"]
