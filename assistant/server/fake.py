"""A small in-memory :class:`~assistant.pipeline_api.ChatPipeline` for tests of the server.

Skills route by keyword (a skill's name in the text), each skill answers through its own
:class:`~assistant.backends.fake.FakeBackend` model, and conversations are kept in memory
with the same statuses the real store uses (a failed reply keeps its partial text).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from assistant.backends.base import Backend, ChatMessage, GenerationRequest
from assistant.backends.fake import FakeBackend
from assistant.errors import AssistantError, StoreError
from assistant.events import ReplyFailed, ReplyFinished, RouteDecided, RouteInfo, TextDelta, TurnEvent
from assistant.pipeline_api import ComponentState, DocsInfo, SkillInfo


@dataclass
class StoredMessage:
    role: str
    content: str
    status: str = "complete"
    skill: str | None = None


class FakeChatPipeline:
    """A ChatPipeline over fake or real backends, with no router, skills or database.

    Args:
        skills: skill name -> model name; the first is the fallback.
        backends: model name -> backend; missing models get an echoing FakeBackend.
        delay_s: per-token delay of the default fake backends.
    """

    def __init__(self, skills: dict[str, str] | None = None, backends: dict[str, Backend] | None = None,
                 delay_s: float = 0.0) -> None:
        self.skill_models = skills or {"chat": "fake-chat", "code": "fake-code"}
        self.backends: dict[str, Backend] = dict(backends or {})
        for model in self.skill_models.values():
            self.backends.setdefault(model, FakeBackend(model, delay_s=delay_s))
        self.conversations: dict[str, list[StoredMessage]] = {}
        self._lock = threading.Lock()
        self.started = False

    # ChatPipeline ------------------------------------------------------------------------
    def start(self) -> None:
        self.started = True

    def components(self) -> list[ComponentState]:
        return [ComponentState(name, "ready") for name in self.backends]

    def skills(self) -> list[SkillInfo]:
        return [SkillInfo(name, f"fake {name} skill", model) for name, model in self.skill_models.items()]

    def documents(self) -> list[DocsInfo]:
        return []

    def explain(self, conversation_id: str | None, text: str) -> RouteInfo:
        words = text.lower().split()
        for name in self.skill_models:
            if name in words:
                return RouteInfo(skill=name, score=0.9, reason=f"'{name}' in the message")
        fallback = next(iter(self.skill_models))
        return RouteInfo(skill=fallback, score=0.1, reason="no skill matched; fallback")

    def save_correction(self, skill: str, text: str) -> None:
        raise AssistantError("the fake pipeline does not learn", "")

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        with self._lock:
            return list(self.conversations[conversation_id])

    def import_history(self, messages: list[ChatMessage]) -> str:
        """Start a stored conversation that already holds ``messages``."""
        cid = uuid.uuid4().hex
        with self._lock:
            self.conversations[cid] = [StoredMessage(m.role, m.content) for m in messages]
        return cid

    def run_turn(self, conversation_id: str | None, text: str, *, skill: str | None = None,
                 cancel: threading.Event | None = None, attachments: tuple[Path, ...] = (),
                 generation: dict[str, Any] | None = None) -> Iterator[TurnEvent]:
        cancel = cancel or threading.Event()
        with self._lock:
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                self.conversations[conversation_id] = []
            elif conversation_id not in self.conversations:
                raise StoreError(f"conversation '{conversation_id}' does not exist", "start a new one")
            stored = self.conversations[conversation_id]
            history = [ChatMessage(m.role, m.content) for m in stored if m.status != "error"]  # type: ignore[arg-type]
            stored.append(StoredMessage("user", text))
        if skill is not None and skill not in self.skill_models:
            yield ReplyFailed(conversation_id, None, f"skill '{skill}' is not available", "see /v1/models")
            return
        info = RouteInfo(skill=skill, forced=True, reason="chosen by the user") if skill else self.explain(None, text)
        model = self.skill_models[info.skill]
        yield RouteDecided(conversation_id, info, model)
        yield from self._answer(conversation_id, info.skill, model, history + [ChatMessage("user", text)],
                                cancel, generation or {})

    def _answer(self, cid: str, skill: str, model: str, messages: list[ChatMessage], cancel: threading.Event,
                generation: dict[str, Any]) -> Iterator[TurnEvent]:
        parts: list[str] = []
        stream = None
        try:
            stream = self.backends[model].stream(GenerationRequest(messages, cancel=cancel, cache_key=cid, **generation))
            for piece in stream:
                parts.append(piece)
                yield TextDelta(piece)
        except AssistantError as exc:
            self._store(cid, StoredMessage("assistant", "".join(parts), "error", skill))
            yield ReplyFailed(cid, None, exc.message, exc.hint, "".join(parts), skill)
            return
        result = stream.result
        status = "cancelled" if cancel.is_set() else "complete"
        stats = {"model": model, "finish_reason": result.finish_reason if result else "stop",
                 "prompt_tokens": result.prompt_tokens if result else 0,
                 "completion_tokens": result.completion_tokens if result else 0}
        self._store(cid, StoredMessage("assistant", "".join(parts), status, skill))
        yield ReplyFinished(cid, None, "".join(parts), status, skill, model, stats)

    def _store(self, cid: str, message: StoredMessage) -> None:
        with self._lock:
            self.conversations[cid].append(message)

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None) -> Iterator[TurnEvent]:
        raise AssistantError("the fake pipeline cannot regenerate", "")

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()
