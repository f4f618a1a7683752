"""Conversation memory: the SQLite store, context fitting and titles.

Public API::

    from assistant.memory import Store, fit_messages, title_from_text

Names are imported on first use: ``assistant.config`` imports ``memory.settings``, and
loading the config (and so ``assistant --help``) must not pull in sqlite-utils and numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "fit_messages": "context", "fit_plan": "context", "FitPlan": "context", "Conversation": "records", "Message": "records", "SearchHit": "records",
    "Store": "store", "title_from_text": "titles", "Recall": "recall", "RecallHit": "recall",
    "Summariser": "summary",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"assistant.memory.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'assistant.memory' has no attribute {name!r}")
