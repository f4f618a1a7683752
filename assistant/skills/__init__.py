"""Skills: the plugin contract, discovery, the registry, and the tools skills may use.

Public API (imported on first use, because ``assistant.config`` imports
``assistant.skills.settings`` and loading the config must stay light):
:func:`load_skills`, :class:`SkillRegistry`, :class:`Skill`, :func:`define_skill`,
:class:`SkillContext`, :class:`ModelAccess`, :class:`DirectModelAccess`, :class:`Manifest`,
:class:`Tool`, :class:`ToolDispatcher`, ``hookimpl``, ``generate_structured``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_skills": "registry", "SkillRegistry": "registry", "RouteSpec": "registry", "discover": "registry",
    "Skill": "skill", "define_skill": "skill", "SkillTimeout": "skill",
    "SkillContext": "context", "ModelAccess": "context", "DirectModelAccess": "context",
    "Manifest": "manifest", "load_manifest": "manifest",
    "Tool": "tools", "ToolDispatcher": "tools", "run_tool_loop": "tools",
    "hookimpl": "hookspecs", "hookspec": "hookspecs",
    "generate_structured": "structured",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"assistant.skills.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'assistant.skills' has no attribute {name!r}")
