"""Shared base for every configuration section: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config table. A typo in a key is an error, never a silent default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
