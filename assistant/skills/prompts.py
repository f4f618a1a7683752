"""Prompt files of skills: where a name in a manifest points, and filling a template.

A leaf of the skills package (standard library only), so the context, the loader and the
skill runner can all use it without importing each other.
"""

from __future__ import annotations

import string
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
PROMPTS_DIR = REPO_ROOT / "prompts"


def resolve_file(folder: Path, name: str) -> Path | None:
    """A file named in a manifest: absolute, in the skill folder, or in ``prompts/``."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path if path.is_file() else None
    for base in (folder, PROMPTS_DIR):
        if (base / path).is_file():
            return base / path
    return None


def render_prompt(template: str, now: datetime, skill: str) -> str:
    """Fill ``$today``, ``$now`` and ``$skill`` in a prompt template (no code runs in templates).

    Args:
        template: the prompt text.
        now: the current time (a skill context's ``clock()``).
        skill: the running skill's name.
    """
    return string.Template(template).safe_substitute(
        today=now.date().isoformat(), now=now.isoformat(timespec="minutes"), skill=skill)
