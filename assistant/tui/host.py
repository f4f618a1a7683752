"""What the chat app offers its screens and widgets (:class:`~assistant.tui.app.AssistantApp`
implements it). Screens see the app through this protocol, so nothing below the app imports it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from assistant.pipeline_api import ChatPipeline, ConversationStore

if TYPE_CHECKING:
    from assistant.tui.settings import TuiSettings

T = TypeVar("T")


class TuiHost(Protocol):
    pipeline: ChatPipeline | None
    store: ConversationStore | None
    skill_names: list[str]
    tui_settings: "TuiSettings"
    export_dir: Path

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking pipeline call in a worker thread."""
        ...

    async def in_store_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a conversation-store call on the store's own thread."""
        ...

    def push_screen(self, screen: Any, callback: Any = None) -> Any:
        """Show a screen (a dialog); ``callback`` gets its result."""
        ...

    async def action_quit(self) -> None: ...
