"""Slash commands: the table the help screen, completion and the command palette share."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    """One ``/name ARGS`` command."""

    name: str
    args: str
    help: str

    @property
    def usage(self) -> str:
        return f"/{self.name}" + (f" {self.args}" if self.args else "")


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "show keys and commands"),
    SlashCommand("new", "", "start a new conversation"),
    SlashCommand("clear", "", "clear the screen and start a new conversation (nothing is deleted)"),
    SlashCommand("why", "[TEXT]", "show the routing trace of the last message (or of TEXT)"),
    SlashCommand("route", "SKILL", "re-run the last message on SKILL and offer to save the correction"),
    SlashCommand("skill", "SKILL", "pin SKILL for this conversation"),
    SlashCommand("auto", "", "unpin: route every message again"),
    SlashCommand("skills", "", "list skills, their models and failures"),
    SlashCommand("models", "", "show models, the embedder and memory"),
    SlashCommand("docs", "", "list your document collections and how far their index is"),
    SlashCommand("regen", "", "regenerate the last reply"),
    SlashCommand("copy", "", "copy the last reply to the clipboard"),
    SlashCommand("file", "PATH [TEXT]", "hand a file to the routed skill (with TEXT, send at once)"),
    SlashCommand("export", "[md|json] [PATH]", "export this conversation to a file"),
    SlashCommand("rename", "TITLE", "rename this conversation"),
    SlashCommand("delete", "", "delete this conversation (asks first)"),
    SlashCommand("quit", "", "leave the app"),
)
BY_NAME = {c.name: c for c in COMMANDS}


class CommandError(ValueError):
    """A slash command line could not be parsed."""


def parse(line: str) -> tuple[str, list[str], str] | None:
    """Split ``/name args...`` into ``(name, args, rest)``; ``None`` if it is not a command.

    ``rest`` is the text after the command name, untouched (for titles and free text).
    A line starting with ``//`` is a message that begins with ``/``, not a command.

    Raises:
        CommandError: an unknown command or unbalanced quotes.
    """
    stripped = line.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return None
    head, _, rest = stripped[1:].partition(" ")
    name = head.lower()
    if name not in BY_NAME:
        near = complete("/" + name[:2]) if name else []
        hint = f" (did you mean {', '.join(c.usage for c in near)}?)" if near else ""
        raise CommandError(f"unknown command /{head}{hint}")
    try:
        args = shlex.split(rest)
    except ValueError as exc:
        raise CommandError(f"/{name}: {exc}") from None
    return name, args, rest.strip()


def complete(prefix: str) -> list[SlashCommand]:
    """Commands whose ``/name`` starts with ``prefix`` (which includes the slash)."""
    if not prefix.startswith("/") or " " in prefix:
        return []
    word = prefix[1:].lower()
    return [c for c in COMMANDS if c.name.startswith(word)]
