"""Tools a skill may call, and the dispatcher that enforces what the skill declared.

The model never decides what is allowed: a model that obeys an instruction hidden in a
document (indirect prompt injection) can ask for anything, and the dispatcher refuses
undeclared tools, paths outside the skill's roots (after resolving ``..`` and symlinks),
network use, side effects the user did not confirm, and chains longer than the skill's bound.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from assistant.backends.base import ChatMessage
from assistant.errors import PermissionDenied
from assistant.skills.manifest import Permissions

MAX_READ_BYTES = 1_000_000


@dataclass(frozen=True)
class Tool:
    """A function a skill (or its model) may call by name.

    Attributes:
        name: the tool's name, as declared in a manifest's ``tools``.
        func: called with the (checked) arguments; returns text for the model.
        description: one line for the model.
        side_effect: changes something; runs only after the user confirms.
        writes: its path arguments are written (needs ``permissions.write``).
        network: uses the network (needs ``permissions.network``).
        path_args: names of arguments that are file paths (checked against the roots).
    """

    name: str
    func: Callable[..., str]
    description: str = ""
    side_effect: bool = False
    writes: bool = False
    network: bool = False
    path_args: tuple[str, ...] = ("path",)


def _read_file(path: Path) -> str:
    with path.open("rb") as fh:
        data = fh.read(MAX_READ_BYTES + 1)
    if len(data) > MAX_READ_BYTES:
        raise PermissionDenied(f"{path} is larger than {MAX_READ_BYTES} bytes", "read a smaller file")
    return data.decode("utf-8", errors="replace")


def _list_dir(path: Path) -> str:
    return "\n".join(sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())[:500])


def _write_file(path: Path, content: str) -> str:
    with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite
        fh.write(content)
    return f"wrote {len(content)} characters to {path}"


def _delete_file(path: Path) -> str:
    path.unlink()
    return f"deleted {path}"


BUILTIN_TOOLS: dict[str, Tool] = {
    t.name: t for t in (
        Tool("read_file", _read_file, "read a text file: {\"path\": ...}"),
        Tool("list_dir", _list_dir, "list a folder: {\"path\": ...}"),
        Tool("write_file", _write_file, "create a new file: {\"path\": ..., \"content\": ...}", side_effect=True, writes=True),
        Tool("delete_file", _delete_file, "delete a file: {\"path\": ...}", side_effect=True, writes=True),
    )
}

_PATHLIKE = re.compile(r"""(?:"([^"]+)"|'([^']+)'|(\S+))""")


def mentioned_paths(text: str, base: Path | None = None) -> list[Path]:
    """Existing files the user named in their own message (quoted or bare)."""
    base = base or Path.cwd()
    out: list[Path] = []
    for match in _PATHLIKE.finditer(text):
        raw = next(g for g in match.groups() if g).rstrip(".,;:!?)")
        if "/" not in raw and "." not in raw:
            continue
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            if path.is_file():
                out.append(path.resolve())
        except OSError:
            continue
    return out


@dataclass
class Roots:
    """Where a skill's tools may read and create files.

    ``files`` may be read (attachments, files the user named); ``folders`` may be read and,
    with write permission, written; ``create_in`` may only receive new files.
    """

    files: set[Path] = field(default_factory=set)
    folders: list[Path] = field(default_factory=list)
    create_in: set[Path] = field(default_factory=set)

    @classmethod
    def build(cls, permissions: Permissions, *, attachments: Iterable[Path] = (), mentioned: Iterable[Path] = (),
              scratch: Path | None = None) -> "Roots":
        roots = cls()
        for entry in permissions.read:
            if entry in ("attachments", "mentioned"):
                for f in (attachments if entry == "attachments" else mentioned):
                    f = Path(f).expanduser().resolve()
                    roots.files.add(f)
                    roots.create_in.add(f.parent)
            elif entry == "scratch":
                if scratch is not None:
                    roots.folders.append(scratch.resolve())
            else:
                roots.folders.append(Path(entry).expanduser().resolve())
        return roots

    def can_read(self, path: Path) -> bool:
        return path in self.files or any(path.is_relative_to(r) for r in self.folders)

    def can_create(self, path: Path) -> bool:
        return path.parent in self.create_in or any(path.is_relative_to(r) for r in self.folders)

    def can_change(self, path: Path) -> bool:
        return any(path.is_relative_to(r) for r in self.folders)


class ToolDispatcher:
    """Runs tool calls for one skill and one turn, enforcing its declaration.

    Args:
        skill: the skill's name (for messages).
        declared: the tool names the skill's manifest lists.
        permissions: the manifest's permissions.
        roots: where paths may point (see :class:`Roots`).
        confirm: asks the user before a side effect; ``False`` refuses it.
        max_calls: the bound on calls in this turn.
        tools: the tools that exist (built-ins plus the skill's own).
        base: the folder relative paths resolve against.
    """

    def __init__(self, skill: str, declared: Iterable[str], permissions: Permissions, roots: Roots, *,
                 confirm: Callable[[str], bool], max_calls: int = 8, tools: Mapping[str, Tool] | None = None,
                 base: Path | None = None) -> None:
        self.skill = skill
        self.declared = list(declared)
        self.permissions = permissions
        self.roots = roots
        self.confirm = confirm
        self.max_calls = max_calls
        self.tools = dict(BUILTIN_TOOLS) | dict(tools or {})
        self.base = base or Path.cwd()
        self.calls: list[tuple[str, dict[str, Any], str]] = []  # (tool, args, outcome)

    def _deny(self, name: str, args: Mapping[str, Any], why: str, hint: str) -> PermissionDenied:
        self.calls.append((name, dict(args), f"refused: {why}"))
        return PermissionDenied(f"skill '{self.skill}': tool '{name}' refused: {why}", hint)

    def resolve(self, raw: Any) -> Path:
        """A path argument made absolute, with ``~``, ``..`` and symlinks resolved."""
        path = Path(os.fspath(raw)).expanduser()
        return (path if path.is_absolute() else self.base / path).resolve()

    def check_read(self, raw: Any) -> Path:
        """The resolved path if the skill may read it, else PermissionDenied."""
        path = self.resolve(raw)
        if not self.roots.can_read(path):
            raise self._deny("read", {"path": str(raw)}, f"{raw} is outside the folders this skill may read",
                             "attach the file or name it in your message")
        return path

    def check_create(self, raw: Any) -> Path:
        """The resolved path if the skill may create it (never an existing file)."""
        path = self.resolve(raw)
        if not self.permissions.write:
            raise self._deny("write", {"path": str(raw)}, "the skill may not write files", "")
        if not self.roots.can_create(path):
            raise self._deny("write", {"path": str(raw)}, f"{raw} is outside the folders this skill may write", "")
        if path.exists():
            raise self._deny("write", {"path": str(raw)}, f"{path} exists and would be overwritten", "")
        return path

    def _check(self, tool: Tool, args: Mapping[str, Any]) -> dict[str, Any]:
        name = tool.name
        if tool.network and not self.permissions.network:
            raise self._deny(name, args, "the skill has no network permission", "network access is off by default")
        if tool.writes and not self.permissions.write:
            raise self._deny(name, args, "the skill has no write permission", "")
        checked = dict(args)
        for key in tool.path_args:
            if key not in args:
                continue
            path = self.resolve(args[key])
            if tool.writes:
                allowed = self.roots.can_change(path) or (name == "write_file" and self.roots.can_create(path))
            else:
                allowed = self.roots.can_read(path)
            if not allowed:
                raise self._deny(name, args, f"{args[key]} is outside the folders this skill may use",
                                 "only files you attached, named, or the skill's own folders are allowed")
            checked[key] = path
        return checked

    def call(self, name: str, args: Mapping[str, Any] | None = None) -> str:
        """Run tool ``name`` with ``args`` if everything allows it.

        Raises:
            PermissionDenied: undeclared or unknown tool, path outside the roots, missing
                permission, side effect not confirmed, or the call budget is spent.
        """
        args = dict(args or {})
        if len(self.calls) >= self.max_calls:  # refused attempts count too: a looping model stops
            raise self._deny(name, args, f"more than {self.max_calls} tool calls in one turn", "ask for less at once")
        if name not in self.declared:
            raise self._deny(name, args, "the skill did not declare it", f"declared tools: {', '.join(self.declared) or 'none'}")
        tool = self.tools.get(name)
        if tool is None:
            raise self._deny(name, args, "no such tool", "")
        checked = self._check(tool, args)
        if tool.side_effect:
            shown = ", ".join(f"{k}={v}" for k, v in checked.items())
            if not self.confirm(f"Skill '{self.skill}' wants to run {name}({shown}). Allow?"):
                raise self._deny(name, args, "the user did not confirm it", "confirm the action, or pass --yes to `ask`")
        try:
            out = tool.func(**checked)
        except PermissionDenied:
            raise
        except (OSError, TypeError, ValueError) as exc:
            self.calls.append((name, args, f"error: {exc}"))
            return f"error: {exc}"
        self.calls.append((name, args, "ok"))
        return out


_CALL = re.compile(r"\{.*\}", re.S)


def parse_tool_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """``{"tool": NAME, "args": {...}}`` in a model's reply, or ``None`` for a plain answer."""
    match = _CALL.search(text)
    if not match:
        return None
    try:
        obj = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("tool"), str):
        return None
    args = obj.get("args", {})
    return obj["tool"], args if isinstance(args, dict) else {}


def tool_instructions(dispatcher: ToolDispatcher) -> str:
    """The system-prompt paragraph that tells a model which tools exist and how to call them."""
    lines = [f"- {n}: {dispatcher.tools[n].description}" for n in dispatcher.declared if n in dispatcher.tools]
    return ("You may call a tool by replying with only JSON: {\"tool\": NAME, \"args\": {...}}. "
            "Tools:\n" + "\n".join(lines) + "\nOtherwise answer normally.")


def run_tool_loop(generate: Callable[..., Any], messages: list[ChatMessage], dispatcher: ToolDispatcher) -> Iterator[str]:
    """Let a model call tools until it answers in prose; yields the final answer's pieces.

    Each tool result (or refusal) goes back to the model as a user message. The chain ends
    when the model stops calling tools or the dispatcher's call budget is spent.
    """
    convo = list(messages)
    refusals: list[str] = []
    while True:
        reply = generate(convo).text()
        call = parse_tool_call(reply)
        if call is None:
            break
        name, args = call
        try:
            result = dispatcher.call(name, args)
        except PermissionDenied as exc:
            refusals.append(exc.message)
            if "tool calls in one turn" in exc.message:
                reply = ""
                break
            result = f"refused: {exc.message}"
        convo += [ChatMessage("assistant", reply), ChatMessage("user", f"Tool result for {name}:\n{result}")]
    for note in refusals:
        yield f"[refused] {note}\n"
    if reply:
        yield reply
