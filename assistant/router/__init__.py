"""Embedding intent router: routes each request to a skill, or falls back to general chat.

Public API: :class:`RouteSpec`, :class:`RouteChoice`, :class:`Router`, :class:`RouterService`,
the embedders (:class:`FakeEmbedder`, :class:`MiniLMEmbedder`) and ``routes_from_skills``.
Names are imported on first use, because ``assistant.config`` imports ``router.settings``
and loading the config must not pull in numpy; torch loads only when MiniLM is made.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Embedder": "embedders", "FakeEmbedder": "embedders", "MiniLMEmbedder": "embedders",
    "make_embedder": "embedders", "Router": "router", "RouterService": "service",
    "Corrections": "sources", "routes_from_skill_objects": "sources", "routes_from_skills": "sources",
    "RouteChoice": "types", "RouteSpec": "types",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"assistant.router.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'assistant.router' has no attribute {name!r}")
