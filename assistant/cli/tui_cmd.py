"""`assistant` with no command: the chat app.

The services (pipeline and conversation store) are built in :func:`make_services`, the one
place where the TUI is wired to the rest of the assistant. It runs in a worker thread after
the first paint, so slow imports never delay the window.

``ASSISTANT_TUI_FAKE=1`` (for tests and demos only) runs the app on the in-package
:class:`~assistant.tui.fake_pipeline.FakePipeline`: no models, no embedder, no database.
``ASSISTANT_TUI_FAKE_DELAY`` (seconds per token) and ``ASSISTANT_TUI_FAKE_WARMUP`` (seconds)
tune it.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.tui.app import Services

FAKE_ENV = "ASSISTANT_TUI_FAKE"


def fake_services(confirm: Callable[[str], bool]) -> "Services":
    """Services on the fake pipeline (tests and demos)."""
    from assistant.tui.app import Services
    from assistant.tui.fake_pipeline import FakePipeline

    pipeline = FakePipeline(
        delay_s=float(os.environ.get("ASSISTANT_TUI_FAKE_DELAY", "0.02")),
        warmup_s=float(os.environ.get("ASSISTANT_TUI_FAKE_WARMUP", "0.5")),
        confirm=confirm,
    )
    return Services(pipeline, pipeline.store)


def make_services(settings: "Settings", confirm: Callable[[str], bool]) -> "Services":
    """Build the real pipeline and conversation store (called in a worker thread).

    Raises:
        AssistantError: when the pipeline cannot be built (shown in the chat).
    """
    from assistant.errors import AssistantError
    from assistant.tui.app import Services

    try:
        from assistant.pipeline import build_pipeline
    except ImportError as exc:
        raise AssistantError(
            f"the assistant pipeline is not available ({exc})",
            f"this build has no assistant.pipeline yet; {FAKE_ENV}=1 runs the app on a fake for demos",
        ) from None
    pipeline = build_pipeline(settings, confirm=confirm)
    # The real store is adapted to assistant.tui.store.ConversationStore by the pipeline
    # (``conversation_store``); without it the app still chats, the sidebar stays empty.
    store = getattr(pipeline, "conversation_store", None)
    return Services(pipeline, store() if callable(store) else store)


def run_tui(args: argparse.Namespace) -> int:
    """Open the chat app; returns the exit code."""
    from assistant.cli.common import settings_from
    from assistant.tui.app import AssistantApp

    settings = settings_from(args)
    exports = settings.data_dir / "exports"
    if os.environ.get(FAKE_ENV) == "1":
        app = AssistantApp(fake_services, settings.tui, exports)
    else:
        app = AssistantApp(lambda confirm: make_services(settings, confirm), settings.tui, exports)
    result = app.run()
    return int(result or 0)
