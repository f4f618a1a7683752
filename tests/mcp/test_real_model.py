"""One turn on the real default model (qwen2.5-coder-0.5b) against the real time server."""

from __future__ import annotations

import json
import time

import pytest


@pytest.mark.real_model
def test_the_default_model_calls_the_time_tool_for_tokyo(real_settings, server_bin) -> None:
    from assistant.backends.manager import ModelManager
    from assistant.config import load_settings
    from assistant.skills.context import DirectModelAccess
    from assistant.skills.registry import load_skills

    server = {"command": server_bin("mcp-server-time"), "args": ["--local-timezone", "UTC"]}
    settings = load_settings(overrides={"models_dir": str(real_settings.model_dir), "runtime": {"threads": 2},
                                        "mcp": {"servers": {"time": server}}})
    registry = load_skills(settings, entry_points=None)
    manager = ModelManager(settings)
    try:
        skill = registry.get("time")
        manager.get(settings.default_model, None)  # load first: the turn is what is timed
        started = time.perf_counter()
        ctx = registry.context(skill, text="what time is it in Tokyo",
                               models=DirectModelAccess(manager, settings.default_model))
        text = "".join(p for p in registry.run(skill, ctx) if isinstance(p, str))
        elapsed = time.perf_counter() - started
    finally:
        registry.close()
        manager.close()
    assert text.startswith("`get_current_time`"), text
    shown = json.loads(text.split("```\n")[1])
    assert shown["timezone"] == "Asia/Tokyo" and shown["datetime"].endswith("+09:00")
    assert elapsed < 60, f"the turn took {elapsed:.1f} s"
