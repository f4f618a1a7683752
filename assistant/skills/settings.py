"""Skill loading configuration ([skills] in config.toml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from assistant.settings_base import Section


class SkillOverride(Section):
    """Per-skill overrides a user can set without editing the skill."""

    model: str | None = None
    adapter: Path | None = None


class SkillsSettings(Section):
    """Where skills come from and which may load."""

    user_dir: Path | None = None
    safe_mode: bool = False
    allow: list[str] | None = None
    handler_timeout_s: float = Field(default=120.0, gt=0)
    overrides: dict[str, SkillOverride] = Field(default_factory=dict)
