"""Loads models lazily and keeps several resident within a RAM budget (LRU eviction).

A failed load leaves the already loaded models untouched. Each backend serializes its own
generations, so two requests to one model never interleave.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from assistant.backends.base import Backend
from assistant.config import Settings
from assistant.errors import ModelError

Factory = Callable[[str, "Path | None"], Backend]
LoadState = Literal["loading", "loaded", "failed"]


@dataclass
class ModelState:
    """What the status bar shows for one model."""

    name: str
    state: LoadState
    footprint_mb: int = 0
    error: str = ""


def estimate_footprint_mb(settings: Settings, name: str) -> int:
    """Rough resident size: the weights plus a KV cache for the configured window."""
    spec = settings.model(name)
    weights = (spec.size_bytes or 0) / 2**20
    if spec.size_bytes is None and spec.source == "path" and spec.path and spec.path.expanduser().is_file():
        weights = spec.path.expanduser().stat().st_size / 2**20
    kv = spec.n_ctx * 0.05  # about 50 KB per token of context for the small models in the catalog
    return int(weights + kv + 64)


class ModelManager:
    """Hands out loaded backends by catalog name.

    Args:
        settings: the configuration (catalog, budget, threads).
        factory: builds a backend for a model name and optional LoRA adapter; default loads
            it with llama.cpp (or over HTTP for ``source = "http"``).
    """

    def __init__(self, settings: Settings, factory: Factory | None = None) -> None:
        self.settings = settings
        self._factory = factory or self._default_factory
        self._loaded: OrderedDict[str, Backend] = OrderedDict()
        self._states: dict[str, ModelState] = {}
        self._lock = threading.RLock()
        self._loading: dict[str, threading.Lock] = {}
        self.listeners: list[Callable[[ModelState], None]] = []

    def _default_factory(self, name: str, adapter: Path | None) -> Backend:
        spec = self.settings.model(name)
        if spec.source == "http":
            from assistant.backends.http import HttpBackend

            return HttpBackend(name, spec, self.settings)
        from assistant.backends.llama import LlamaBackend
        from assistant.models.store import ModelStore

        path = ModelStore(self.settings).ensure_ready(name)
        if adapter is not None and not Path(adapter).is_file():
            raise ModelError(f"LoRA adapter {adapter} for '{name}' does not exist", "re-run `assistant tune` or fix the skill's adapter path")
        return LlamaBackend(
            name, path, spec, n_threads=self.settings.runtime.n_threads, adapter=adapter,
            state_cache=self.settings.memory.kv_cache_entries,
        )

    def _set_state(self, state: ModelState) -> None:
        self._states[state.name] = state
        for listener in list(self.listeners):
            try:
                listener(state)
            except Exception:  # noqa: BLE001 - a broken listener must not break loading
                pass

    def states(self) -> list[ModelState]:
        """Every model that was loaded, is loading, or failed to load."""
        return list(self._states.values())

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def used_mb(self) -> int:
        return sum(s.footprint_mb for s in self._states.values() if s.state == "loaded")

    @staticmethod
    def key(name: str, adapter: Path | None = None) -> str:
        """The resident-set key: a model with an adapter is a separate load.

        Two adapter files of the same name in different folders (a shipped adapter and a newly
        trained one) are different loads: the key carries a short hash of the file's full path.
        """
        if adapter is None:
            return name
        where = hashlib.sha1(str(Path(adapter).expanduser().resolve()).encode()).hexdigest()[:6]
        return f"{name}+{Path(adapter).name}@{where}"

    def get(self, name: str, adapter: Path | None = None) -> Backend:
        """The loaded backend for ``name`` (with ``adapter``), loading it if needed.

        Raises:
            ConfigError: unknown model name.
            ModelError: the file is missing, bad, or the load failed.
        """
        self.settings.model(name)  # unknown names fail fast with the list of known ones
        model, name = name, self.key(name, adapter)
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:  # one load per model at a time; others wait for it
            with self._lock:
                if name in self._loaded:
                    return self._loaded[name]
            need = estimate_footprint_mb(self.settings, model)
            self._make_room(need)
            self._set_state(ModelState(name, "loading", need))
            try:
                backend = self._factory(model, adapter)
            except ModelError as exc:
                self._set_state(ModelState(name, "failed", 0, exc.message))
                raise
            except MemoryError:
                self._set_state(ModelState(name, "failed", 0, "out of memory"))
                raise ModelError(
                    f"not enough memory to load '{name}'",
                    "lower runtime.memory_budget_mb or n_ctx, or close other programs",
                ) from None
            except Exception as exc:  # noqa: BLE001 - llama.cpp reports failed loads as ValueError/RuntimeError
                self._set_state(ModelState(name, "failed", 0, str(exc)))
                raise ModelError(f"could not load model '{name}': {exc}", "check the file with `assistant models verify`") from None
            with self._lock:
                self._loaded[name] = backend
            self._set_state(ModelState(name, "loaded", need))
            return backend

    def _make_room(self, need_mb: int) -> None:
        budget = self.settings.runtime.memory_budget_mb
        cap = self.settings.runtime.max_loaded_models
        with self._lock:
            while self._loaded and (len(self._loaded) >= cap or self.used_mb() + need_mb > budget):
                self.unload(next(iter(self._loaded)))

    def unload(self, name: str) -> None:
        """Free a model's memory (it is reloaded on next use)."""
        with self._lock:
            backend = self._loaded.pop(name, None)
            self._states.pop(name, None)
        if backend is not None:
            backend.close()

    def close(self) -> None:
        for name in self.loaded():
            self.unload(name)
