"""A deterministic :class:`~assistant.pipeline_api.ChatPipeline` for tests and demos.

It routes by keywords (with scores, a threshold, a margin and follow-up reasoning, like the
real router reports them), answers with :class:`~assistant.backends.fake.FakeBackend`, keeps
conversations in a :class:`~assistant.tui.store.MemoryConversationStore`, simulates an
embedder warm-up, and has one side-effecting fake tool (the ``notes`` skill deleting a note)
that asks the front end for confirmation. ``ASSISTANT_TUI_FAKE=1 assistant`` runs the app on it.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from assistant.backends.base import ChatMessage, GenerationRequest
from assistant.backends.fake import FakeBackend, Script
from assistant.errors import AssistantError, SkillError
from assistant.events import ReplyFailed, ReplyFinished, RouteDecided, RouteInfo, TextDelta, TurnEvent
from assistant.pipeline_api import ComponentState, DocsInfo, SkillInfo, WarmState
from assistant.tui.store import MemoryConversationStore, StoredMessage

Confirm = Callable[[str], bool]
THRESHOLD = 0.4
MAX_ATTACHMENT_CHARS = 4000

# name -> (description, model, adapter, keywords)
_SKILLS: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "chat": ("General conversation (the fallback)", "fake-chat", None, ()),
    "code": ("Writes and explains code", "fake-coder", "code-lora", ("code", "python", "function", "bug", "def")),
    "summarize": ("Summarizes text and files", "fake-chat", None, ("summarize", "summary", "tl;dr", "file")),
    "notes": ("Saves and deletes notes; asks before changing anything", "fake-chat", None, ("note", "notes", "delete")),
}
_WORD = re.compile(r"[\w;]+")


class FakePipeline:
    """A :class:`ChatPipeline` with no models, no embedder and no database.

    Args:
        script: replies for the fake backends (see :class:`FakeBackend`); default echoes.
        delay_s: pause before each streamed token.
        warmup_s: how long the fake embedder "loads" after :meth:`start`.
        store: where conversations live; a fresh in-memory store by default.
        confirm: asked before a side-effecting tool runs; refuses when unset.
    """

    def __init__(
        self,
        script: Script | list[str] | None = None,
        *,
        delay_s: float = 0.0,
        warmup_s: float = 0.0,
        store: MemoryConversationStore | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        self.store = store or MemoryConversationStore()
        self._backends = {m: FakeBackend(m, script=script, delay_s=delay_s) for m in ("fake-chat", "fake-coder")}
        self._loaded: set[str] = set()
        self._warmup_s = warmup_s
        self._embedder: WarmState = "cold"
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._confirm = confirm
        self._last_route: dict[str, str] = {}
        self.corrections: list[tuple[str, str]] = []
        self.turns: list[dict] = []

    # Lifecycle -------------------------------------------------------------------------
    def set_confirmer(self, confirm: Confirm) -> None:
        """Install the front end's confirmation hook (called from the turn's thread)."""
        self._confirm = confirm

    def start(self) -> None:
        with self._lock:
            if self._embedder != "cold":
                return
            self._embedder = "loading"
        threading.Thread(target=self._warm_up, name="fake-warmup", daemon=True).start()

    def _warm_up(self) -> None:
        time.sleep(self._warmup_s)
        self._embedder = "ready"
        self._ready.set()

    def components(self) -> list[ComponentState]:
        states = [ComponentState("embedder", self._embedder, "fake embedder")]
        for name in self._backends:
            states.append(ComponentState(name, "ready" if name in self._loaded else "cold"))
        states.append(ComponentState("memory", "ready", f"{40 + 60 * len(self._loaded)} / 4096 MB"))
        return states

    def documents(self) -> list[DocsInfo]:
        return []  # the demo has no document collections

    def import_history(self, messages: list[ChatMessage]) -> str:
        cid = self.store.create(next((m.content for m in messages if m.role == "user"), "imported")[:60])
        for m in messages:
            if m.content and m.role in ("user", "assistant"):
                self.store.add_message(cid, StoredMessage(m.role, m.content))
        return cid

    def close(self) -> None:
        """Nothing to release: the demo holds no models or files."""

    def skills(self) -> list[SkillInfo]:
        infos = [SkillInfo(n, d, m, examples=len(k)) for n, (d, m, _a, k) in _SKILLS.items()]
        infos.append(SkillInfo("weather", "Weather forecasts", None, "failed", "import failed: no module named 'pyowm'"))
        return infos

    # Routing ---------------------------------------------------------------------------
    def explain(self, conversation_id: str | None, text: str) -> RouteInfo:
        return self._route(conversation_id, text, None, ())

    def _route(self, cid: str | None, text: str, forced: str | None, attachments: tuple[Path, ...]) -> RouteInfo:
        if forced is not None:
            if forced not in _SKILLS:
                raise SkillError(f"unknown skill '{forced}'", f"known skills: {', '.join(_SKILLS)}")
            return RouteInfo(forced, reason=f"forced by the user: {forced}", forced=True)
        words = [w.lower() for w in _WORD.findall(text)]
        scores = {n: min(1.0, 0.45 * sum(w in kw for w in words)) for n, (_d, _m, _a, kw) in _SKILLS.items()}
        scores["chat"] = 0.3
        if attachments:
            scores["summarize"] = max(scores["summarize"], 0.9)
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        (best, top), (second, second_score) = ranked[0], ranked[1]
        margin = round(top - second_score, 3)
        previous = self._last_route.get(cid or "")
        if top < THRESHOLD and previous and len(words) <= 4:
            skill, reason = previous, f"short follow-up: stays on the previous turn's skill '{previous}'"
        elif top < THRESHOLD:
            skill, reason = "chat", f"best score {top:.2f} is below the threshold {THRESHOLD}: fallback"
        else:
            skill, reason = best, f"'{best}' scored {top:.2f}, {margin:.2f} ahead of '{second}'"
        return RouteInfo(skill, top, second, second_score, margin, THRESHOLD, reason, False, ranked[:4])

    def save_correction(self, skill: str, text: str) -> None:
        if skill not in _SKILLS:
            raise SkillError(f"unknown skill '{skill}'", f"known skills: {', '.join(_SKILLS)}")
        self.corrections.append((skill, text))

    # Turns -----------------------------------------------------------------------------
    def run_turn(
        self,
        conversation_id: str | None,
        text: str,
        *,
        skill: str | None = None,
        cancel: threading.Event | None = None,
        attachments: tuple[Path, ...] = (),
    ) -> Iterator[TurnEvent]:
        self.start()
        self._ready.wait()
        cid = conversation_id or self.store.create(text.strip().splitlines()[0] if text.strip() else "untitled")
        self.store.add_message(cid, StoredMessage("user", text))
        self.turns.append({"conversation_id": cid, "text": text, "skill": skill, "attachments": attachments})
        try:
            route = self._route(cid, text, skill, attachments)
            prompt = text + "".join(self._read_attachment(p) for p in attachments)
        except AssistantError as exc:
            yield from self._fail(cid, None, exc, "")
            return
        yield from self._answer(cid, route, prompt, cancel)

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None,
                   skill: str | None = None) -> Iterator[TurnEvent]:
        history = self.store.messages(conversation_id)
        last_user = next((m.content for m in reversed(history) if m.role == "user"), None)
        if last_user is None:
            raise AssistantError("nothing to regenerate", "send a message first")
        self.turns.append({"conversation_id": conversation_id, "text": last_user, "skill": skill, "regenerate": True})
        route = self._route(conversation_id, last_user, skill or self._last_route.get(conversation_id), ())
        yield from self._answer(conversation_id, route, last_user, cancel)

    def _answer(self, cid: str, route: RouteInfo, prompt: str, cancel: threading.Event | None) -> Iterator[TurnEvent]:
        self._last_route[cid] = route.skill
        _desc, model, adapter, _kw = _SKILLS[route.skill]
        yield RouteDecided(cid, route, model, adapter)
        if route.skill == "notes" and "delete" in prompt.lower():
            yield from self._delete_note(cid, prompt, model)
            return
        history = [ChatMessage(m.role, m.content) for m in self.store.messages(cid)[:-1] if m.role in ("user", "assistant")]
        request = GenerationRequest(history + [ChatMessage("user", prompt)], max_tokens=400, cancel=cancel)
        pieces: list[str] = []
        try:
            generation = self._backends[model].stream(request)
            self._loaded.add(model)
            for piece in generation:
                pieces.append(piece)
                yield TextDelta(piece)
        except AssistantError as exc:
            yield from self._fail(cid, route.skill, exc, "".join(pieces))
            return
        result = generation.result
        assert result is not None
        status = "cancelled" if result.finish_reason == "cancelled" else "complete"
        mid = self.store.add_message(cid, StoredMessage("assistant", result.text, route.skill, model, status))
        stats = {"tokens_per_s": result.tokens_per_s, "completion_tokens": result.completion_tokens, "ttft_ms": result.ttft_ms}
        yield ReplyFinished(cid, mid, result.text, status, route.skill, model, stats)

    def _delete_note(self, cid: str, prompt: str, model: str) -> Iterator[TurnEvent]:
        name = prompt.lower().split("delete", 1)[1].strip(" .?!") or "the note"
        allowed = self._confirm is not None and self._confirm(f"The notes skill wants to delete the note '{name}'. Allow?")
        text = f"Deleted the note '{name}'." if allowed else f"Did not delete '{name}': not confirmed."
        yield TextDelta(text)
        mid = self.store.add_message(cid, StoredMessage("assistant", text, "notes", model))
        yield ReplyFinished(cid, mid, text, "complete", "notes", model, {"tool": "delete_note", "allowed": allowed})

    def _fail(self, cid: str, skill: str | None, exc: AssistantError, partial: str) -> Iterator[TurnEvent]:
        mid = self.store.add_message(cid, StoredMessage("assistant", partial, skill, None, "error"))
        yield ReplyFailed(cid, mid, exc.message, exc.hint, partial, skill)

    @staticmethod
    def _read_attachment(path: Path) -> str:
        try:
            data = Path(path).read_text(encoding="utf-8", errors="replace")[:MAX_ATTACHMENT_CHARS]
        except OSError as exc:
            raise SkillError(f"cannot read {path}: {exc.strerror}", "check the path and its permissions") from None
        return f"\n\n[attached {Path(path).name}]\n{data}"
