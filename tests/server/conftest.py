"""Fixtures for the server tests: a real llama-cpp-python server on the tiny GGUF, and
``assistant serve`` on the real pipeline with fake models, both on 127.0.0.1 with free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pytest

from assistant.backends.base import Backend, Generation
from assistant.backends.fake import FakeBackend

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.pipeline import Pipeline
    from assistant.server.runner import AssistantServer

STARTUP_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LlamaServer:
    proc: subprocess.Popen
    base_url: str
    log: Path

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def start_llama_server(model: Path, log: Path) -> LlamaServer:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "tiny"]
    out = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = LlamaServer(proc, f"http://127.0.0.1:{port}/v1", log)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(server.base_url + "/models", timeout=1) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    pytest.fail(f"llama_cpp.server did not start in {STARTUP_S} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def llama_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A real llama-cpp-python server on the tiny model, shared by a test module."""
    server = start_llama_server(tiny_gguf, tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.kill()


@pytest.fixture
def own_llama_server(tiny_gguf: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """A llama-cpp-python server a test may kill."""
    server = start_llama_server(tiny_gguf, tmp_path / "server.log")
    yield server
    if server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)
    server.kill()


@pytest.fixture
def http_settings(isolated_home):
    """Makes Settings whose catalog has ``remote``, an http model at a base URL."""
    from assistant.config import load_settings

    def make(base_url: str, **spec):
        entry = {"source": "http", "base_url": base_url, "api_model": "tiny", "n_ctx": 2048, "trained_ctx": 2048,
                 "generation": {"temperature": 0.0, "max_tokens": 24}} | spec
        return load_settings(overrides={"models": {"remote": entry}})

    return make


class FakeModels:
    """A ModelManager factory that makes FakeBackends and keeps them by model name.

    Args:
        make: builds the backend for a model name; default an echoing FakeBackend.
    """

    def __init__(self, make: Callable[[str], Backend] | None = None, delay_s: float = 0.001) -> None:
        self.backends: dict[str, Backend] = {}
        self._make = make or (lambda name: FakeBackend(name, delay_s=delay_s))

    def __call__(self, name: str, adapter: Path | None) -> Backend:
        self.backends[name] = self._make(name)
        return self.backends[name]


def passing_through(generation: Generation, pieces: Callable[[Iterator[str]], Iterator[str]]) -> Generation:
    """``generation``'s text through ``pieces``; its measurements stay those of ``generation``."""
    return Generation(pieces(iter(generation)), lambda _text, _reason: generation.result)


@pytest.fixture
def make_pipeline(shared_router_cache: Path) -> Iterator[Callable[..., Pipeline]]:
    """Builds the real Pipeline (store, router, skills) with the fake embedder and models from
    ``factory`` (default :class:`FakeModels`), routing from the session's router cache; closed
    after the test."""
    from assistant.config import load_settings
    from assistant.memory.store import Store
    from assistant.pipeline import fake_pipeline

    made: list[Pipeline] = []

    def make(factory: Callable[[str, Path | None], Backend] | None = None, settings: Settings | None = None) -> Pipeline:
        settings = settings or load_settings()
        made.append(fake_pipeline(settings, factory=factory or FakeModels(), store=Store.open(settings.db_path)))
        return made[-1]

    yield make
    for pipeline in made:
        pipeline.close()


@dataclass
class Served:
    server: AssistantServer
    pipeline: Pipeline
    url: str


def serve(pipeline: Pipeline, *, api_key: str | None = None, **options: object) -> Served:
    """Run ``assistant serve``'s HTTP server on a free loopback port in a thread."""
    from assistant.server.runner import make_server
    from assistant.server.settings import ServerSettings

    server = make_server(pipeline, "127.0.0.1", 0, api_key=api_key, options=ServerSettings(**options), verbose=False)
    server.start()
    return Served(server, pipeline, server.url)


@pytest.fixture
def serve_pipeline() -> Iterator[Callable[..., Served]]:
    """Starts ``assistant serve`` on a pipeline (stopped after the test)."""
    started: list[Served] = []

    def start(pipeline: Pipeline, **kwargs: object) -> Served:
        started.append(serve(pipeline, **kwargs))
        return started[-1]

    yield start
    for running in started:
        running.server.stop()


@pytest.fixture
def models() -> FakeModels:
    return FakeModels()


@pytest.fixture
def pipeline(make_pipeline, models: FakeModels) -> Pipeline:
    """The real pipeline on echoing fake models (``models.backends`` holds them)."""
    return make_pipeline(models)


@pytest.fixture
def served(pipeline: Pipeline, serve_pipeline) -> Served:
    return serve_pipeline(pipeline)


@pytest.fixture
def client(served: Served):
    from openai import OpenAI

    return OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=30)


@pytest.fixture
def post():
    return post_json


@pytest.fixture
def until():
    return wait_until


def post_json(url: str, body: object, headers: dict | None = None) -> tuple[int, dict]:
    """POST raw JSON (for requests the openai client would not send)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_until(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
