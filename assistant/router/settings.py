"""Router configuration ([router] in config.toml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from assistant.settings_base import Section


class RouterSettings(Section):
    """How requests are routed to skills."""

    embedder: Literal["minilm", "fake"] = "minilm"
    fallback_skill: str = "chat"
    followup_turns: int = Field(default=3, ge=0, le=20)
    # Tune the embedder's top layers on the skills' examples (once per change, cached).
    adapt: bool = True
    # Embed through an ONNX Runtime copy of the embedder (exported once, cached); false: torch.
    onnx: bool = True
    # Without out-of-scope validation data (a user's skills), the fallback threshold keeps at
    # least this share of the requests the router's cross-validation routes right.
    keep_in_scope: float = Field(default=0.98, ge=0.5, le=1.0)
    # Route on an int8 copy of the ONNX embedder (made once from it, checked, cached); only
    # the router's vectors change, memory and documents keep the float model's.
    int8: bool = True
