"""The router as the app uses it: built in a background thread, queried when ready.

Starting the app never waits on torch: :meth:`RouterService.start` returns at once and the
embedder is imported, loaded and the routes fitted in a daemon thread. Until then, and if the
build fails, :meth:`RouterService.route` falls back (with the reason) instead of raising.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable, Literal, Sequence

from assistant.errors import AssistantError, RouterError
from assistant.router.sources import Corrections, routes_from_skills
from assistant.router.types import RouteChoice, RouteSpec

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.router.embedders import Embedder
    from assistant.router.router import Router

log = logging.getLogger(__name__)
State = Literal["cold", "loading", "ready", "failed"]


class _Closed(Exception):
    """Raised inside a build when the service is closing."""


class RouterService:
    """Owns the embedder and the current :class:`Router`.

    Args:
        settings: the configuration (router section, data and cache dirs, threads).
        routes: returns the skills' routes; default: :func:`routes_from_skills`.
        embedder_factory: makes the embedder; default: from ``settings.router.embedder``.
    """

    def __init__(
        self,
        settings: "Settings",
        routes: Callable[[], Sequence[RouteSpec]] | None = None,
        embedder_factory: Callable[[], "Embedder"] | None = None,
    ) -> None:
        self.settings = settings
        self.fallback_skill = settings.router.fallback_skill
        self.corrections = Corrections(settings.data_dir / "router" / "corrections.jsonl")
        self._routes = routes or (lambda: routes_from_skills(settings))
        self._factory = embedder_factory
        self._embedder: Embedder | None = None
        self._router: Router | None = None
        self._state: State = "cold"
        self._detail = ""
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._generation = 0  # a rebuild started later wins over one started earlier
        self._closed = False

    # Lifecycle ---------------------------------------------------------------------------
    @property
    def state(self) -> tuple[State, str]:
        """(state, detail) for the status bar."""
        with self._cond:
            return self._state, self._detail

    @property
    def router(self) -> "Router | None":
        """The current router, or ``None`` before the first build finished."""
        return self._router

    def start(self) -> None:
        """Build (or rebuild) in the background; returns at once."""
        with self._cond:
            self._generation += 1
            gen = self._generation
            if self._router is None:
                self._state, self._detail = "loading", "loading the embedding model"
        self._thread = threading.Thread(target=self._build, args=(gen,), name="router-build", daemon=True)
        self._thread.start()

    def embedder(self, wait: float = 0.0) -> "Embedder | None":
        """The embedder the routes are built with (recall and document search reuse it),
        waiting up to ``wait`` seconds while it loads; ``None`` when it is not available."""
        if self._router is None and wait:
            self.wait_ready(wait)
        router = self._router
        return router.base_embedder if router is not None else None

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until ready (True) or failed / timed out (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._state in ("cold", "loading") or (self._state == "ready" and self._building()):
                if self._state == "cold" and self._thread is None:
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return self._state == "ready"

    def close(self, timeout: float = 60.0) -> None:
        """Stop a build in progress and wait for its thread (at most ``timeout`` seconds).

        Called before the process exits: a build thread still inside ONNX Runtime or torch
        when the interpreter shuts down can abort the process. The build stops at its next
        embedding batch or tuning step; nothing half-written is kept (cache files are
        written whole or not at all).
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)

    def _check_open(self, *_: object) -> None:
        if self._closed:
            raise _Closed()

    def _building(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _build(self, gen: int) -> None:
        started = time.monotonic()
        try:
            if self._embedder is None:
                from assistant.router.embedders import make_embedder

                self._embedder = self._factory() if self._factory else make_embedder(self.settings)
            self._check_open()
            from assistant.router.router import Router

            routes = self.corrections.apply(list(self._routes()), self.fallback_skill)
            router = Router.build(
                routes, self._embedder, self.settings.cache_dir / "router",
                fallback=self.fallback_skill, followup_turns=self.settings.router.followup_turns,
                adapt=self.settings.router.adapt, progress=self._check_open,
                keep_in_scope=self.settings.router.keep_in_scope, int8=self.settings.router.int8,
                tune_progress=lambda d, t: self._note(gen, f"tuning the router {d}/{t}"),
            )
        except _Closed:
            log.info("router build stopped: the app is closing")
            return
        except AssistantError as exc:
            self._finish(gen, None, "failed", f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
            return
        except Exception as exc:
            log.exception("router build failed")
            self._finish(gen, None, "failed", f"{type(exc).__name__}: {exc}")
            return
        took = time.monotonic() - started
        detail = f"{len(router.routes)} skills, threshold {router.threshold:.2f}, built in {took:.1f} s"
        if hasattr(router.embedder, "onnx"):  # which runtime embeds the messages
            from assistant.router.int8 import Int8Embedder

            runtime = ", ONNX Runtime int8" if isinstance(router.embedder, Int8Embedder) else ", ONNX Runtime"
            detail += runtime if router.embedder.onnx is not None else ", torch"
        self._finish(gen, router, "ready", detail)

    def _note(self, gen: int, detail: str) -> None:
        """Progress of a build in the status detail (only before the first router is ready)."""
        self._check_open()
        with self._cond:
            if gen == self._generation and self._router is None:
                self._detail = detail

    def _finish(self, gen: int, router: "Router | None", state: State, detail: str) -> None:
        with self._cond:
            if gen == self._generation:
                if router is not None:
                    self._router = router
                # A failed rebuild keeps the previous router working.
                if state == "ready" or self._router is None:
                    self._state, self._detail = state, detail
                else:
                    self._detail = f"rebuild failed, using the previous routes: {detail}"
            self._cond.notify_all()

    # Use -------------------------------------------------------------------------------
    def route(self, text: str, history: Sequence[object] | None = None, previous_skill: str | None = None,
              *, force: str | None = None, wait: float = 30.0) -> RouteChoice:
        """Route one message; ``force`` picks a skill for this message only.

        Waits up to ``wait`` seconds for a build in progress; when the router is not
        available the result falls back and says why.
        """
        if force:
            return RouteChoice(force, 1.0, None, None, None, 0.0, f"'{force}' chosen by the user for this message")
        router = self._router
        if router is None:
            self.wait_ready(wait)
            router = self._router
        if router is None:
            state, detail = self.state
            return RouteChoice(None, 0.0, None, None, None, 0.0, f"router not available ({state}: {detail}); falling back")
        return router.route(text, history, previous_skill)

    def add_example(self, skill: str, text: str, rebuild: bool = True) -> None:
        """Save ``text`` as an example for ``skill`` (the fallback skill: a negative).

        The correction is stored first (it is user data); the router is rebuilt in the
        background, re-embedding only the changed skill.
        """
        known = set(self._router.routes) if self._router else None
        if known is not None and skill not in known and skill != self.fallback_skill:
            raise RouterError(
                f"unknown skill '{skill}'",
                f"choose one of: {', '.join(sorted(known | {self.fallback_skill}))}",
            )
        self.corrections.add(skill, text)
        if rebuild:
            self.start()
