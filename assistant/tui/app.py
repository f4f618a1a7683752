"""The chat application: owns the pipeline and store, and everything that runs off the UI thread.

The app paints first and builds the pipeline in a worker thread afterwards, so typing is
possible at once while models and the embedder load. It talks to the rest of the assistant
only through :class:`~assistant.pipeline_api.ChatPipeline` and the
:class:`~assistant.pipeline_api.ConversationStore` the pipeline holds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from assistant.errors import AssistantError
from assistant.pipeline_api import ChatPipeline, ConversationStore
from assistant.tui.messages import ComponentsPolled, ServicesReady
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.settings import TuiSettings

T = TypeVar("T")
Confirm = Callable[[str], bool]


PipelineFactory = Callable[[Confirm], ChatPipeline]
"""Builds the pipeline; receives the app's confirmation hook for side-effecting tools."""


class AssistantApp(App[int]):
    """The ``assistant`` chat app.

    Args:
        services: builds the pipeline; called once in a worker thread after the first paint.
        settings: the ``[tui]`` section.
        export_dir: where ``/export`` writes files by default.
    """

    TITLE = "assistant"
    # A mode (not get_default_screen) so Textual loads the screen's own chat.tcss.
    MODES = {"chat": ChatScreen}
    DEFAULT_MODE = "chat"

    def __init__(self, services: PipelineFactory, settings: TuiSettings | None = None, export_dir: Path | None = None) -> None:
        super().__init__()
        self.tui_settings = settings or TuiSettings()
        self.export_dir = export_dir or Path.cwd()
        self._factory = services
        self.pipeline: ChatPipeline | None = None
        self.store: ConversationStore | None = None
        self.skill_names: list[str] = []
        self._chat: ChatScreen | None = None
        # sqlite connections belong to one thread: every store call goes through this one.
        self._store_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tui-store")
        self._pending_confirms: set[concurrent.futures.Future[bool]] = set()
        self._confirm_lock = threading.Lock()
        self.set_keymap({f"assistant.{name}": key for name, key in self.tui_settings.keys.items()})

    @property
    def chat(self) -> ChatScreen:
        """The main screen (always at the bottom of the screen stack)."""
        if self._chat is None:
            screen = self.screen_stack[0]
            assert isinstance(screen, ChatScreen)
            self._chat = screen
        return self._chat

    def on_mount(self) -> None:
        # Build services after the first frame so nothing delays the first paint.
        self.call_after_refresh(self._build_services)
        self.set_interval(self.tui_settings.status_interval_s, self._poll_components)

    # Services --------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="services")
    def _build_services(self) -> None:
        try:
            pipeline = self._factory(self.confirm_from_thread)
            pipeline.start()
            states = pipeline.components()
            skills = [s.name for s in pipeline.skills() if s.status == "ok"]
        except AssistantError as exc:
            self.chat.post_message(ServicesReady(exc.message, exc.hint))
            return
        except Exception as exc:  # noqa: BLE001 - shown in the chat, never as a traceback
            self.chat.post_message(ServicesReady(f"could not start: {type(exc).__name__}: {exc}", "see `assistant models list` and your config"))
            return
        self.pipeline, self.store, self.skill_names = pipeline, pipeline.conversation_store, skills
        self.chat.post_message(ComponentsPolled(states))
        self.chat.post_message(ServicesReady())

    @work(thread=True, exit_on_error=False, group="status", exclusive=True)
    def _poll_components(self) -> None:
        if self.pipeline is None:
            return
        try:
            states = self.pipeline.components()
        except Exception:  # noqa: BLE001 - a status poll must never take the app down
            return
        self.chat.post_message(ComponentsPolled(states))

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking pipeline call in a worker thread and await its result."""
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args))

    async def in_store_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a conversation-store call on the store's own thread and await its result."""
        return await asyncio.get_running_loop().run_in_executor(self._store_thread, partial(fn, *args))

    # Confirmation hook (called by the pipeline from a worker thread) ---------------------
    def confirm_from_thread(self, prompt: str) -> bool:
        """Ask the user to allow a side-effecting action; blocks the calling worker thread.

        Returns False if the app is closing. Must not be called from the UI thread.
        """
        if threading.get_ident() == self._thread_id:
            raise RuntimeError("confirm_from_thread must be called from a worker thread")
        future: concurrent.futures.Future[bool] = concurrent.futures.Future()
        with self._confirm_lock:
            self._pending_confirms.add(future)

        def answered(value: bool | None) -> None:
            if not future.done():
                future.set_result(bool(value))

        try:
            self.call_from_thread(self.push_screen, ConfirmScreen(prompt, yes="Allow"), answered)
            return future.result()
        except RuntimeError:  # the app is not running any more
            return False
        finally:
            with self._confirm_lock:
                self._pending_confirms.discard(future)

    def _refuse_pending_confirms(self) -> None:
        with self._confirm_lock:
            for future in self._pending_confirms:
                if not future.done():
                    future.set_result(False)

    # Command palette -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.chat
        run = chat.run_command_line
        yield SystemCommand("New conversation", "Start a new conversation", chat.action_new_conversation)
        yield SystemCommand("Toggle sidebar", "Show or hide the conversations", chat.action_toggle_sidebar)
        yield SystemCommand("Help: keys and commands", "Every key binding and slash command", chat.action_help)
        yield SystemCommand("Why this skill?", "Routing trace of the last message", chat.action_why)
        yield SystemCommand("Regenerate", "Answer the last message again", chat.action_regenerate)
        yield SystemCommand("Skills", "List skills and their models", partial(run, "/skills"))
        yield SystemCommand("Models", "Models, embedder and memory", partial(run, "/models"))
        yield SystemCommand("Export conversation", "Write this conversation to a Markdown file", partial(run, "/export"))
        yield SystemCommand("Route automatically", "Unpin the skill", partial(run, "/auto"))
        for name in self.skill_names:
            yield SystemCommand(f"Pin skill: {name}", f"Answer with '{name}' until /auto", partial(run, f"/skill {name}"))

    # Shutdown --------------------------------------------------------------------------
    async def action_quit(self) -> None:
        self.shutdown_work()
        self.exit(0)

    def shutdown_work(self) -> None:
        """Stop generation and refuse pending confirmations so worker threads end."""
        if self._chat is not None:
            self._chat.cancel_active()
        self._refuse_pending_confirms()
        self._store_thread.shutdown(wait=False, cancel_futures=True)

    def on_unmount(self) -> None:
        self.shutdown_work()
        if self.pipeline is not None:
            try:
                self.pipeline.close()
            except Exception:  # noqa: BLE001 - closing must not turn a clean exit into a crash
                pass
