"""A loaded skill: its manifest, its handler, its status, and how it runs (under a timeout).

A skill whose manifest names a model and a prompt but ships no code answers with
:func:`prompt_handler`. A skill with code defines ``respond(ctx)`` in ``skill.py``, a generator
of text pieces (and :class:`~assistant.events.Progress`). Either way the handler runs in a
worker thread: an exception becomes a :class:`SkillError` naming the skill, and a handler
silent for longer than its timeout is abandoned and the skill marked failed.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal

from assistant.errors import AssistantError, SkillError
from assistant.events import Progress
from assistant.skills.manifest import DEFAULT_MODEL, Manifest
from assistant.skills.prompts import render_prompt

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.skills.context import SkillContext
    from assistant.skills.tools import Tool

Status = Literal["ok", "failed", "disabled"]
Handler = Callable[["SkillContext"], Iterable["str | Progress"]]
DEFAULT_TIMEOUT_S = 120.0


class SkillTimeout(SkillError):
    """A skill produced nothing for longer than its timeout."""


def prompt_handler(ctx: "SkillContext") -> Iterator[str]:
    """The handler of a skill without code: its prompt, the conversation, its model.

    With an output schema the answer is constrained, validated (one repair) and shown as JSON.
    """
    from assistant.skills.structured import dump, generate_structured

    messages = ctx.messages(ctx.prompt or None)
    if ctx.output_schema is not None:
        yield dump(generate_structured(ctx.generate, messages, ctx.output_schema, skill=ctx.skill_name))
        return
    yield from ctx.generate(messages)


@dataclass
class Skill:
    """A skill as the registry holds it, whether it loaded or not.

    Attributes:
        name: the skill's name (the folder or entry-point name when the manifest is unreadable).
        manifest: the validated manifest (``None`` if it failed to load).
        source: ``builtin``, ``user``, ``entrypoint`` or ``python``.
        origin: where it came from (folder path or entry point), for messages.
        status: ``ok``, ``failed`` or ``disabled`` (safe mode / not on the allowlist).
        error: why it failed or is disabled.
        handler: the code that answers (``None``: the prompt handler).
        folder: the skill folder, if it has one.
        prompt_template: the system prompt text (before ``$`` fields are filled).
        output_schema: JSON schema dict or pydantic model class.
        tools: the skill's own tools (besides the built-in ones).
        timeout_s: the longest silence before the skill counts as hung.
    """

    name: str
    manifest: Manifest | None = None
    source: str = "python"
    origin: str = ""
    status: Status = "ok"
    error: str = ""
    handler: Handler | None = None
    folder: Path | None = None
    prompt_template: str = ""
    output_schema: Any = None
    tools: dict[str, "Tool"] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # What lists and the router read --------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def description(self) -> str:
        return self.manifest.description if self.manifest else ""

    @property
    def examples(self) -> list[str]:
        return list(self.manifest.examples) if self.manifest else []

    @property
    def negatives(self) -> list[str]:
        return list(self.manifest.negatives) if self.manifest else []

    def fail(self, reason: str) -> None:
        """Mark the skill failed (it stays listed, with the reason)."""
        self.status, self.error = "failed", reason

    # Model and adapter, with the user's overrides ------------------------------------
    def model_name(self, settings: "Settings") -> str | None:
        """The catalog model this skill runs on: user override, manifest, or ``None``."""
        if self.manifest is None or not self.manifest.needs_model:
            return None
        override = settings.skills.overrides.get(self.name)
        if override is not None and override.model:
            return override.model
        return settings.default_model if self.manifest.model == DEFAULT_MODEL else self.manifest.model

    def adapter_path(self, settings: "Settings") -> Path | None:
        """The LoRA adapter applied to the model, if any (an override wins; a changed model drops it)."""
        if self.manifest is None or not self.manifest.needs_model:
            return None
        override = settings.skills.overrides.get(self.name)
        if override is not None and override.adapter:
            return Path(override.adapter).expanduser()
        if override is not None and override.model and override.model != self.manifest.model:
            return None  # an adapter belongs to the model it was trained on
        if self.manifest.adapter and self.folder is not None:
            return (self.folder / self.manifest.adapter).resolve()
        return None

    # Running -------------------------------------------------------------------------
    def respond(self, ctx: "SkillContext") -> Iterator[str | Progress]:
        """Run the handler in a worker thread, relaying its pieces; see the module docstring.

        Raises:
            SkillError: the skill is not available, raised, yielded something invalid, or hung.
        """
        if not self.ok:
            raise SkillError(f"skill '{self.name}' is not available: {self.error}", "see `assistant skills list`")
        if not ctx.prompt and self.prompt_template:
            ctx.prompt = render_prompt(self.prompt_template, ctx.clock(), ctx.skill_name)
        if ctx.output_schema is None:
            ctx.output_schema = self.output_schema
        handler = self.handler or prompt_handler
        yield from self._relay(handler, ctx)

    def _relay(self, handler: Handler, ctx: "SkillContext") -> Iterator[str | Progress]:
        inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        ask = ctx.confirm

        def confirm(prompt: str) -> bool:
            # Waiting for the user is not hanging: the timeout pauses while the question is open.
            inbox.put(("pause", None))
            try:
                return bool(ask(prompt))
            finally:
                inbox.put(("resume", None))

        ctx.confirm = confirm
        if ctx.tools is not None:
            ctx.tools.confirm = confirm
        paused = False
        worker = threading.Thread(target=_work, args=(handler, ctx, inbox, stop), daemon=True,
                                  name=f"skill-{self.name}")
        worker.start()
        try:
            while True:
                try:
                    kind, value = inbox.get(timeout=None if paused else self.timeout_s)
                except queue.Empty:
                    ctx.cancel.set()  # a cooperative handler (or its model) stops here
                    reason = f"produced nothing for {self.timeout_s:g} s and was stopped"
                    self.fail(f"hung: {reason}; disabled until restart")
                    raise SkillTimeout(f"skill '{self.name}' {reason}",
                                       "the skill is disabled until the app restarts; try another skill") from None
                if kind in ("pause", "resume"):
                    paused = kind == "pause"
                    continue
                if kind == "done":
                    return
                if kind == "error":
                    raise self._as_error(value)
                yield value
        finally:
            stop.set()

    def _as_error(self, exc: BaseException) -> AssistantError:
        if isinstance(exc, AssistantError):
            return exc
        return SkillError(f"skill '{self.name}' failed: {type(exc).__name__}: {exc}",
                          "try again or rephrase; if it keeps failing, report it to the skill's author")


def _work(handler: Handler, ctx: "SkillContext", inbox: queue.Queue, stop: threading.Event) -> None:
    """Worker-thread body: run the handler, post each piece, then ``done`` or ``error``."""
    try:
        result = handler(ctx)
        if isinstance(result, str):
            result = [result]
        for item in result or ():
            if not isinstance(item, (str, Progress)):
                raise TypeError(f"a skill must yield text or Progress, not {type(item).__name__}")
            inbox.put(("item", item))
            if stop.is_set():
                close = getattr(result, "close", None)
                if close:
                    close()
                return
    except BaseException as exc:  # noqa: BLE001 - reported to the caller's thread; never lost in this one
        inbox.put(("error", exc))
    else:
        inbox.put(("done", None))


def define_skill(name: str, description: str, examples: list[str], respond: Handler | None = None, *,
                 tools: Iterable["Tool"] = (), output_schema: Any = None, prompt: str = "", **manifest: Any) -> Skill:
    """A skill declared in Python, for plugins that need no folder.

    ``manifest`` takes any other manifest key (``negatives``, ``model``, ``generation``, ...).
    A skill without ``respond`` needs ``model`` and answers with its ``prompt``.

    Raises:
        SkillError: the declaration is invalid (the message names the key).
    """
    from pydantic import BaseModel, ValidationError

    from assistant.skills.manifest import explain_validation

    data = {"name": name, "description": description, "examples": examples, **manifest}
    if isinstance(output_schema, dict):
        data["output_schema"] = output_schema
    try:
        parsed = Manifest.model_validate(data)
    except ValidationError as exc:
        problems = explain_validation(exc, Path(f"<skill {name}>"), "")
        raise SkillError("invalid skill declaration: " + "; ".join(problems), "fix the key named above") from None
    if respond is None and not parsed.needs_model:
        raise SkillError(f"skill '{name}' has neither a respond function nor a model", "give it one of them")
    schema = output_schema if isinstance(output_schema, type) and issubclass(output_schema, BaseModel) else parsed.output_schema
    return Skill(name=parsed.name, manifest=parsed, handler=respond, prompt_template=prompt,
                 output_schema=schema, tools={t.name: t for t in tools})
