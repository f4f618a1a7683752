"""The slash commands of the chat screen: a table from command name to handler.

:class:`ChatCommands` works on the screen through :class:`ChatView` (what it draws and the
:class:`~assistant.tui.session.ChatSession` it shows) and on the assistant through the app's
:class:`~assistant.tui.host.TuiHost`; it imports neither the screen nor the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from assistant.errors import AssistantError
from assistant.pipeline_api import ChatPipeline
from assistant.tui.host import TuiHost
from assistant.tui.screens.dialogs import ConfirmScreen
from assistant.tui.screens.route import RouteScreen
from assistant.tui.screens.turns import Job
from assistant.tui.session import ChatSession
from assistant.tui.widgets.chat_message import AssistantMessage, UserMessage
from assistant.tui.widgets.sidebar import Sidebar
from assistant.tui.widgets.status import StatusBar

Handler = Callable[[list[str], str], Awaitable[None]]


class ChatView(Protocol):
    """What the commands need of the chat screen."""

    session: ChatSession

    @property
    def host(self) -> TuiHost: ...

    @property
    def status_bar(self) -> StatusBar: ...

    @property
    def sidebar(self) -> Sidebar: ...

    def replies(self) -> list[AssistantMessage]: ...

    def users(self) -> list[UserMessage]: ...

    async def add_note(self, text: str, hint: str = "", kind: str = "info") -> None: ...

    async def send(self, text: str, attachments: tuple[Path, ...] = ()) -> None: ...

    async def attach(self, path: Path) -> None: ...

    async def new_conversation(self) -> None: ...

    async def show_trace(self, reply: AssistantMessage) -> None: ...

    def pump(self) -> None: ...

    def show_help(self) -> None: ...


class ChatCommands:
    """Runs ``/name args`` for ``view``; every command in :data:`commands.COMMANDS` has a handler."""

    def __init__(self, view: ChatView) -> None:
        self.view = view
        self.handlers: dict[str, Handler] = {
            "help": self.help, "quit": self.quit, "new": self.new, "clear": self.clear, "copy": self.copy,
            "skill": self.skill, "auto": self.auto, "skills": self.skills, "models": self.models,
            "docs": self.docs, "why": self.why, "route": self.route, "regen": self.regen, "file": self.file,
            "export": self.export, "rename": self.rename, "delete": self.delete,
        }

    async def run(self, name: str, args: list[str], rest: str) -> None:
        """Run one parsed command; its errors become notes in the chat."""
        try:
            await self.handlers[name](args, rest)
        except AssistantError as exc:
            await self.view.add_note(exc.message, exc.hint, "error")

    # Helpers -----------------------------------------------------------------------------
    @property
    def session(self) -> ChatSession:
        return self.view.session

    def _pipeline(self) -> ChatPipeline:
        pipeline = self.view.host.pipeline
        if pipeline is None:
            raise AssistantError("the assistant is still starting", "wait a moment; your messages are queued")
        return pipeline

    def _conversation(self) -> str:
        if self.session.conversation_id is None:
            raise AssistantError("this conversation is not stored yet", "send a message first")
        return self.session.conversation_id

    async def _ask(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.view.host.in_thread(fn, *args)

    def _last_user_text(self) -> str | None:
        users = self.view.users()
        return users[-1].text if users else None

    # Simple commands ---------------------------------------------------------------------
    async def help(self, args: list[str], rest: str) -> None:
        self.view.show_help()

    async def quit(self, args: list[str], rest: str) -> None:
        await self.view.host.action_quit()

    async def new(self, args: list[str], rest: str) -> None:
        await self.view.new_conversation()

    async def clear(self, args: list[str], rest: str) -> None:
        await self.view.new_conversation()
        await self.view.add_note("Cleared. The previous conversation is still in the sidebar.")

    async def copy(self, args: list[str], rest: str) -> None:
        replies = [r for r in self.view.replies() if r.text]
        if not replies:
            raise AssistantError("there is no reply to copy yet", "send a message first")
        replies[-1].action_copy()

    async def skill(self, args: list[str], rest: str) -> None:
        if len(args) != 1:
            raise AssistantError("usage: /skill SKILL", "see /skills for the names")
        await self._check_skill(args[0])
        self.session.pinned = args[0]
        self.view.status_bar.show(pinned=args[0])
        await self.view.add_note(f"Pinned skill '{args[0]}' for this conversation; /auto routes again.")

    async def auto(self, args: list[str], rest: str) -> None:
        self.session.pinned = None
        self.view.status_bar.show(pinned=None)
        await self.view.add_note("Routing automatically again.")

    async def _check_skill(self, name: str) -> None:
        skills = await self._ask(self._pipeline().skills)
        ok = [s.name for s in skills if s.status == "ok"]
        failed = {s.name: s.error for s in skills if s.status != "ok"}
        if name in failed:
            raise AssistantError(f"skill '{name}' is not available: {failed[name]}", "fix it or pick another: /skills")
        if name not in ok:
            raise AssistantError(f"unknown skill '{name}'", f"known skills: {', '.join(ok)}")

    async def skills(self, args: list[str], rest: str) -> None:
        skills = await self._ask(self._pipeline().skills)
        lines = ["Skills:"]
        for s in skills:
            state = "" if s.status == "ok" else f"  [{s.status}: {s.error}]"
            if s.server:
                state += f"  [MCP server {s.server}]"
            lines.append(f"  {s.name:<12} {s.model or '-':<20} {s.description}{state}")
        await self.view.add_note("\n".join(lines))

    async def models(self, args: list[str], rest: str) -> None:
        states = await self._ask(self._pipeline().components)
        lines = ["Models and components:"] + [f"  {s.name:<22} {s.state:<8} {s.detail}" for s in states]
        await self.view.add_note("\n".join(lines) if states else "No components reported.")
        self.view.status_bar.show(states=states)

    async def docs(self, args: list[str], rest: str) -> None:
        colls = await self._ask(self._pipeline().documents)
        if not colls:
            await self.view.add_note("No document collections yet.",
                                     "add a folder with `assistant docs add PATH`, then ask about it here")
            return
        lines = ["Document collections:"]
        for c in colls:
            when = (c.indexed_at or "never")[:16].replace("T", " ")
            files = f"{c.files} file" + ("" if c.files == 1 else "s")
            lines.append(f"  {c.name:<16} {c.state:<11} {files}, {c.chunks} passages, {c.embedded} embedded, "
                         f"indexed {when}  {c.root}" + (f"  ({c.note})" if c.note else ""))
        await self.view.add_note("\n".join(lines))

    # Routing -----------------------------------------------------------------------------
    async def why(self, args: list[str], rest: str) -> None:
        text = rest
        if not text:
            replies = self.view.replies()
            if replies:
                await self.view.show_trace(replies[-1])
                return
            text = self._last_user_text() or ""
            if not text:
                raise AssistantError("nothing to explain yet", "send a message, or type /why TEXT")
        route = await self._ask(self._pipeline().explain, self.session.conversation_id, text)
        self.view.host.push_screen(RouteScreen(route, text))

    async def route(self, args: list[str], rest: str) -> None:
        if len(args) != 1:
            raise AssistantError("usage: /route SKILL", "see /skills for the names")
        text = self._last_user_text()
        if text is None:
            raise AssistantError("there is no message to re-route", "send a message first")
        await self._check_skill(args[0])
        replies = self.view.replies()
        routed = replies[-1].skill if replies else None
        await self.view.add_note(f"Re-running the last message on '{args[0]}'.")
        self.session.queue.append(Job("regen", text, args[0], (), None, correction_from=routed or "?"))
        self.view.pump()

    def offer_correction(self, skill: str, text: str) -> None:
        """After /route: ask whether to keep the message as a routing example for ``skill``."""
        preview = text if len(text) <= 80 else text[:77] + "..."

        async def answered(save: bool | None) -> None:
            if save:
                await self._save_correction(skill, text)

        self.view.host.push_screen(ConfirmScreen(f"Save “{preview}” as a routing example for '{skill}'?", yes="Save"),
                                   answered)

    async def _save_correction(self, skill: str, text: str) -> None:
        try:
            await self._ask(self._pipeline().save_correction, skill, text)
        except AssistantError as exc:
            await self.view.add_note(exc.message, exc.hint, "error")
            return
        await self.view.add_note(f"Saved as a routing example for '{skill}'.")

    async def regen(self, args: list[str], rest: str) -> None:
        if self.session.active is not None:
            raise AssistantError("a reply is still streaming", "wait for it, or press Esc to stop it")
        self._conversation()
        replies = self.view.replies()
        if not replies:
            raise AssistantError("there is no reply to regenerate", "send a message first")
        text = replies[-1].user_text
        await replies[-1].remove()
        self.session.queue.append(Job("regen", text))
        self.view.pump()

    # Attachments and conversations ---------------------------------------------------------
    async def file(self, args: list[str], rest: str) -> None:
        if not args:
            raise AssistantError("usage: /file PATH [TEXT]", "give the path of a file to hand to the skill")
        await self.view.attach(Path(args[0]))
        if len(args) > 1:
            await self.view.send(" ".join(args[1:]))

    async def export(self, args: list[str], rest: str) -> None:
        fmt = args[0] if args and args[0] in ("md", "json") else "md"
        target = args[1] if len(args) > 1 else (args[0] if args and args[0] not in ("md", "json") else None)
        self.view.sidebar.export(self._conversation(), fmt, Path(target) if target else None)

    async def rename(self, args: list[str], rest: str) -> None:
        if not rest:
            raise AssistantError("usage: /rename TITLE", "type the new title after the command")
        self.view.sidebar.rename(self._conversation(), rest, announce=True)

    async def delete(self, args: list[str], rest: str) -> None:
        self.view.sidebar.ask_delete(self._conversation(), "this conversation")
