"""The plugin hooks skills are registered through (one pluggy manager for every source).

A plugin (a module named by an ``assistant.skills`` entry point, or the loaders for the
built-in and user skill folders) implements::

    from assistant.skills import define_skill, hookimpl

    @hookimpl
    def register_skills(register):
        register(Path(__file__).parent / "my_skill")      # a folder with skill.toml
        register(define_skill(name=..., description=..., examples=[...], respond=fn))
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "assistant"
ENTRY_POINT_GROUP = "assistant.skills"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_skills(register: Callable[..., Any]) -> None:
    """Register skills by calling ``register(folder_or_skill)`` once per skill."""
