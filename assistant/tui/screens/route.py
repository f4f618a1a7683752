"""The routing trace: candidates, scores, threshold, margin and the reasoning."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from assistant.router.types import RouteChoice
from assistant.tui.widgets.chat_message import plain

BAR = 20


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def trace_lines(route: RouteChoice, text: str = "", model: str | None = None) -> list[str]:
    """The trace as lines of plain text (also used by tests and the ``/why`` note)."""
    lines = []
    if text:
        first = text.strip().splitlines()[0] if text.strip() else ""
        lines.append(f"message:   {first[:70]}")
    lines.append(f"skill:     {route.skill}" + ("  (forced)" if route.forced else "") + (f"  on {model}" if model else ""))
    lines.append(f"score:     {_num(route.score)}    threshold: {_num(route.threshold)}    margin: {_num(route.margin)}")
    if route.runner_up:
        lines.append(f"runner-up: {route.runner_up} ({_num(route.runner_up_score)})")
    if route.reason:
        lines.append(f"why:       {route.reason}")
    if route.candidates:
        lines.append("")
        lines.append("candidates:")
        width = max(len(name) for name, _ in route.candidates)
        for name, score in route.candidates:
            filled = max(0, min(BAR, round(score * BAR)))
            mark = "◀" if name == route.skill else " "
            lines.append(f"  {name:<{width}}  {'█' * filled}{'·' * (BAR - filled)}  {score:.3f} {mark}")
    return lines


class RouteScreen(ModalScreen[None]):
    """Shows one routing trace; any of Escape, q or Enter closes it."""

    CSS_PATH = "route.tcss"
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, route: RouteChoice, text: str = "", model: str | None = None) -> None:
        super().__init__()
        self.route = route
        self.text = text
        self.model = model

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="trace"):
            yield Static(plain("Routing trace"), classes="title")
            yield Static(plain("\n".join(trace_lines(self.route, self.text, self.model))), id="trace")
            yield Static(plain("/route SKILL re-runs the message on another skill · Esc closes"), classes="hint")
