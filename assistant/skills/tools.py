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
from assistant.tools import engine
from assistant.tools.spec import ToolSpec

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
        input_schema: the JSON schema of its arguments, which the model fills under a grammar
            (default: each path argument, a required string).
    """

    name: str
    func: Callable[..., str]
    description: str = ""
    side_effect: bool = False
    writes: bool = False
    network: bool = False
    path_args: tuple[str, ...] = ("path",)
    input_schema: dict[str, Any] | None = None

    def spec(self) -> ToolSpec:
        """The tool as the tool-calling engine sees it."""
        schema = self.input_schema or {
            "type": "object", "required": list(self.path_args),
            "properties": {k: {"type": "string", "description": "a file path"} for k in self.path_args}}
        return ToolSpec(self.name, self.description, schema, read_only=not (self.side_effect or self.writes))


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
        Tool("read_file", _read_file, "Read a text file and return its text."),
        Tool("list_dir", _list_dir, "List the names in a folder."),
        Tool("write_file", _write_file, "Create a new text file with the given content (never overwrites).",
             side_effect=True, writes=True, input_schema={
                 "type": "object", "required": ["path", "content"],
                 "properties": {"path": {"type": "string", "description": "the new file's path"},
                                "content": {"type": "string", "description": "the text to write"}}}),
        Tool("delete_file", _delete_file, "Delete a file.", side_effect=True, writes=True),
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


def tool_instructions(dispatcher: ToolDispatcher) -> str:
    """A system-prompt paragraph naming the tools :func:`run_tool_loop` may run for the model."""
    lines = [f"- {n}: {dispatcher.tools[n].description}" for n in dispatcher.declared if n in dispatcher.tools]
    return ("These tools can be run for you; their results are given to you as messages:\n" + "\n".join(lines) +
            "\nAnswer from the results.")


def run_tool_loop(generate: Callable[..., Any], messages: list[ChatMessage], dispatcher: ToolDispatcher,
                  *, embedder: Any = None, max_candidates: int = 3) -> Iterator[str]:
    """Let a model run the skill's declared tools, then answer; yields the answer's pieces.

    The same path as the MCP skills' (:mod:`assistant.tools.engine`): at each step the request
    is narrowed to a few declared tools, the model chooses one under a grammar that allows only
    their names (or "none": answer now) and fills its arguments under a grammar made from its
    schema; a required value the user did not give ends the turn with a question instead of an
    invented one. Then the dispatcher checks the call (declared, paths inside the roots,
    permissions, confirmation, the call budget) and runs it. Each result or refusal goes back
    to the model as a user message; the same call twice, a refusal of the budget, or "none"
    ends the chain, and the model answers in prose from what it has.

    Args:
        generate: ``ctx.generate`` (messages, ``json_schema=``, generation settings).
        messages: the system prompt (with :func:`tool_instructions`), then the user's request last.
        dispatcher: ``ctx.tools``.
        embedder: narrows among many tools by meaning (``None``: word overlap).
    """
    specs = [dispatcher.tools[n].spec() for n in dispatcher.declared if n in dispatcher.tools]
    convo = list(messages)
    request = convo[-1].content if convo else ""
    # The files the user attached or named are what they gave: their paths count as said.
    given = [ChatMessage("user", "Files you may use: " + ", ".join(sorted(map(str, dispatcher.roots.files))))
             ] if dispatcher.roots.files else []
    done: list[str] = []
    calls: set[str] = set()
    refusals: list[str] = []
    while specs:
        ask = request + ("\n\nTools already run:\n" + "\n".join(done) if done else "")
        shortlist = engine.candidates(ask, specs, max_candidates, embedder)
        tool = engine.choose_tool(generate, ask, shortlist, allow_none=True)
        if tool is None:
            break
        args, missing, errors = engine.fill_arguments(generate, request, tool, context=given + convo[1:-1])
        if missing:
            for note in refusals:
                yield f"[refused] {note}\n"
            yield engine.question_for(tool, missing)
            return
        call = f"{tool.name} {json.dumps(args, ensure_ascii=False, sort_keys=True)}"
        if errors or call in calls:
            break  # arguments that stay invalid, or a repeat: answer from what there is
        try:
            result = dispatcher.call(tool.name, args)
        except PermissionDenied as exc:
            refusals.append(exc.message)
            if "tool calls in one turn" in exc.message:
                break
            result = f"refused: {exc.message}"
        calls.add(call)
        done.append(f"- {call}: {result[:120]!r}")
        convo += [ChatMessage("assistant", f"(ran {call})"), ChatMessage("user", f"Tool result for {tool.name}:\n{result}")]
    for note in refusals:
        yield f"[refused] {note}\n"
    yield generate(convo).text()
