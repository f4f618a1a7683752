"""The status bar: warm-up and load states, memory against the budget, pin and queue."""

from __future__ import annotations

from typing import Sequence

from textual.widgets import Static

from assistant.pipeline_api import ComponentState
from assistant.tui.widgets.chat_message import plain

_ICONS = {"ready": "●", "loading": "◌", "cold": "○", "failed": "✖"}


def describe(states: Sequence[ComponentState]) -> str:
    """One line for the components (``name state detail``), loading ones first."""
    order = {"loading": 0, "failed": 1, "ready": 2, "cold": 3}
    parts = []
    for s in sorted(states, key=lambda s: order.get(s.state, 4)):
        word = "" if s.state == "ready" else f" {s.state}"
        detail = f" {s.detail}" if s.detail and (s.state != "ready" or s.name == "memory") else ""
        parts.append(f"{_ICONS.get(s.state, '?')} {s.name}{word}{detail}")
    return "  ".join(parts)


class StatusBar(Static):
    """Shows what the pipeline reports; refreshed on a timer by the app."""

    def __init__(self, **kwargs) -> None:
        super().__init__(plain("starting…"), **kwargs)
        self.states: list[ComponentState] = []
        self.pinned: str | None = None
        self.queued = 0
        self.phase = "starting…"

    def show(self, *, states: Sequence[ComponentState] | None = None, pinned: str | None | bool = False,
             queued: int | None = None, phase: str | None = None) -> None:
        """Update any of the parts and redraw."""
        if states is not None:
            self.states = list(states)
        if not isinstance(pinned, bool):  # False (the default) leaves it as it is
            self.pinned = pinned
        if queued is not None:
            self.queued = queued
        if phase is not None:
            self.phase = phase
        bits = [self.phase] if self.phase else []
        if self.states:
            bits.append(describe(self.states))
        bits.append(f"skill: {self.pinned} (pinned)" if self.pinned else "skill: auto")
        if self.queued:
            bits.append(f"{self.queued} queued")
        self.update(plain(" │ ".join(bits)))
