"""What a skill gets for one turn: a narrow context, never the database or the whole app.

:class:`SkillContext` carries the user's message, the conversation so far, attachments, the
skill's own settings, model access, a scratch folder, ``confirm`` and ``cancel``, and the tool
dispatcher. :class:`ModelAccess` is the seam to models: the pipeline implements it over the
model manager (fitting history to the window); :class:`DirectModelAccess` is the simple
version for tests, scripts and evals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol, runtime_checkable

from assistant.backends.base import ChatMessage, Generation
from assistant.docs.hits import DocsResult
from assistant.errors import SkillError
from assistant.skills.model_access import ModelAccessForTurn
from assistant.skills.prompts import render_prompt, resolve_file

if TYPE_CHECKING:
    from assistant.backends.manager import ModelManager
    from assistant.skills.tools import ToolDispatcher

@runtime_checkable
class ModelAccess(Protocol):
    """How a skill talks to models."""

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        model: str | None = None,
        adapter: Path | None = None,
        json_schema: dict | None = None,
        **gen: Any,
    ) -> Generation:
        """Stream a reply. ``model=None``: the skill's model. ``gen``: GenerationRequest fields."""

    def count_tokens(self, text: str, model: str | None = None) -> int:
        """Tokens ``text`` takes with the model's own tokenizer."""

    def n_ctx(self, model: str | None = None) -> int:
        """The model's context window in tokens."""


class DirectModelAccess(ModelAccessForTurn):
    """The app's model access outside a conversation (skill tests, benchmarks): the same four
    layers of generation settings and the same prompt fitting as a chat turn, with no history.

    Args:
        manager: hands out backends (real, or a FakeBackend factory in tests).
        default_model: the model used when a call names none.
        default_adapter: the adapter used with ``default_model`` when a call names none.
        cancel: set to stop generations within one token.
    """

    def __init__(self, manager: "ModelManager", default_model: str, default_adapter: Path | None = None,
                 cancel: threading.Event | None = None) -> None:
        super().__init__(manager, manager.settings, default_model, default_adapter, None, cancel or threading.Event())


@runtime_checkable
class RecallAccess(Protocol):
    """Read-only search over the user's other conversations and notes (the ``recall`` tool).

    The pipeline hands it only to skills that list ``"recall"`` in their manifest's ``tools``;
    the current conversation is left out of the results.
    """

    def search(self, query: str, limit: int = 6) -> list[Any]:
        """Best-matching snippets, best first (``assistant.memory.recall.RecallHit``)."""


@runtime_checkable
class DocsAccess(Protocol):
    """Read-only search over the user's document collections (the ``docs`` tool).

    The pipeline hands it only to skills that list ``"docs"`` in their manifest's ``tools``
    (``assistant.docs.service.DocsAccess`` implements it).
    """

    def search(self, query: str, collections: list[str] | None = None, limit: int = 6) -> DocsResult:
        """Best chunks, the relevance floor and a note on the index."""

    def collections(self) -> list[Any]:
        """The collections with their state (``assistant.docs.index.Collection``: ``name``, counts)."""

    def wait_ready(self, timeout: float) -> Iterator[tuple[str, float | None]]:
        """Wait up to ``timeout`` seconds for a running refresh, yielding (message, fraction)."""


def _refuse(_prompt: str) -> bool:
    return False


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SkillContext:
    """Everything a skill may use for one turn.

    Attributes:
        text: the user's message.
        history: the conversation before ``text`` (user and assistant messages).
        attachments: files the user handed over with the message.
        settings: the skill's own settings (manifest ``[settings]`` defaults).
        models: model access (already pointed at the skill's model and adapter).
        scratch: the skill's private folder (created on first use), for its own files.
        confirm: asks the user a yes/no question; ``False`` when nobody can answer.
        cancel: set when the user cancels; long loops should check it.
        tools: the permission-enforcing tool dispatcher.
        skill_name: the running skill's name.
        model: the model the skill runs on (``None`` for deterministic skills).
        adapter: its LoRA adapter, if any.
        generation: the skill's generation settings (manifest ``[generation]``).
        prompt: the skill's system prompt (its template filled in), or ``""``.
        output_schema: the skill's output schema (a JSON schema or pydantic class), if any.
        clock: returns the current time (timezone-aware); tests inject a fixed one.
        folder: the skill's folder (for its own prompt and data files), if it has one.
        recall: read-only search over past conversations and notes, for skills that
            declare the ``recall`` tool; otherwise ``None``.
        docs: read-only search over the user's document collections, for skills that
            declare the ``docs`` tool; otherwise ``None``.
        chosen: ``True`` when the user chose this skill (``/skill``, ``--skill``) rather than
            the router; the skill should then answer rather than hand the turn over.
    """

    text: str
    history: list[ChatMessage] = field(default_factory=list)
    attachments: tuple[Path, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    models: ModelAccess | None = None
    scratch: Path | None = None
    confirm: Callable[[str], bool] = _refuse
    cancel: threading.Event = field(default_factory=threading.Event)
    tools: "ToolDispatcher | None" = None
    skill_name: str = ""
    model: str | None = None
    adapter: Path | None = None
    generation: Mapping[str, Any] = field(default_factory=dict)
    prompt: str = ""
    output_schema: Any = None
    clock: Callable[[], datetime] = _utc_now
    folder: Path | None = None
    recall: RecallAccess | None = None
    docs: DocsAccess | None = None
    chosen: bool = False

    def scratch_dir(self) -> Path:
        """The scratch folder, created if needed."""
        if self.scratch is None:
            raise SkillError(f"skill '{self.skill_name}' has no scratch folder in this context", "run it through the registry")
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    def messages(self, system: str | None = None, text: str | None = None) -> list[ChatMessage]:
        """``[system] + history + [user text]``: the usual chat prompt."""
        out = [ChatMessage("system", system)] if system else []
        return out + list(self.history) + [ChatMessage("user", self.text if text is None else text)]

    def generate(self, messages: list[ChatMessage], *, json_schema: dict | None = None, **gen: Any) -> Generation:
        """Stream from the skill's model with its generation settings (``gen`` wins)."""
        if self.models is None:
            raise SkillError(f"skill '{self.skill_name}' was given no model access", "declare a model in its skill.toml")
        params = {**dict(self.generation), **gen}
        return self.models.generate(messages, model=self.model, adapter=self.adapter, json_schema=json_schema, **params)

    def generate_on(self, model: str | None) -> Callable[..., Generation]:
        """:meth:`generate` on another catalog model, without the skill's adapter: for a job the
        skill's tuned model was not trained for. ``None`` or the skill's own model: :meth:`generate`."""
        if not model or model == self.model:
            return self.generate

        def generate(messages: list[ChatMessage], *, json_schema: dict | None = None, **gen: Any) -> Generation:
            if self.models is None:
                return self.generate(messages, json_schema=json_schema, **gen)  # raises the usual error
            return self.models.generate(messages, model=model, json_schema=json_schema, **{**dict(self.generation), **gen})

        return generate

    def read_prompt(self, name: str) -> str:
        """A prompt template by file name: the skill's folder first, then the repo's ``prompts/``."""
        path = resolve_file(self.folder or Path("."), name)
        if path is None:
            raise SkillError(f"skill '{self.skill_name}': prompt file {name} not found", "reinstall the skill")
        return render_prompt(path.read_text(encoding="utf-8").strip(), self.clock(), self.skill_name)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the skill model's tokenizer."""
        assert self.models is not None
        return self.models.count_tokens(text, self.model)

    def n_ctx(self) -> int:
        """The skill model's context window."""
        assert self.models is not None
        return self.models.n_ctx(self.model)
