"""`assistant` with no command: the chat app.

The pipeline is built in :func:`make_pipeline`, the one place where the TUI is wired to the
rest of the assistant. It runs in a worker thread after the first paint, so slow imports never
delay the window.

``ASSISTANT_TUI_FAKE=1`` (for tests and demos only) runs the app on the real pipeline with the
in-package fakes at its bottom seams (:func:`~assistant.pipeline.fake_pipeline`): echoing
models, a hashing embedder and an in-memory store, so nothing is loaded and nothing is kept.
``ASSISTANT_TUI_FAKE_DELAY`` (seconds per token) and ``ASSISTANT_TUI_FAKE_WARMUP`` (seconds)
tune it.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.pipeline_api import ChatPipeline

FAKE_ENV = "ASSISTANT_TUI_FAKE"


def make_pipeline(settings: "Settings", confirm: Callable[[str], bool], fake: bool = False) -> "ChatPipeline":
    """Build the pipeline (called in a worker thread); ``fake``: on the in-package fakes.

    Raises:
        AssistantError: when the pipeline cannot be built (shown in the chat).
    """
    from assistant.pipeline import build_pipeline, fake_pipeline

    if fake:
        return fake_pipeline(settings, confirm=confirm,
                             delay_s=float(os.environ.get("ASSISTANT_TUI_FAKE_DELAY", "0.02")),
                             warmup_s=float(os.environ.get("ASSISTANT_TUI_FAKE_WARMUP", "0.5")))
    return build_pipeline(settings, confirm=confirm)


def run_tui(args: argparse.Namespace) -> int:
    """Open the chat app; returns the exit code."""
    from assistant.cli.common import settings_from
    from assistant.tui.app import AssistantApp

    settings = settings_from(args)
    fake = os.environ.get(FAKE_ENV) == "1"
    app = AssistantApp(lambda confirm: make_pipeline(settings, confirm, fake), settings.tui,
                       settings.data_dir / "exports")
    result = app.run()
    return int(result or 0)
