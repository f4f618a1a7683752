"""RouterService: background build, states, corrections, forced skills."""

from __future__ import annotations

import threading

from assistant.config import load_settings
from assistant.errors import RouterError
from assistant.router.embedders import FakeEmbedder
from assistant.router.service import RouterService
from assistant.router.types import RouteSpec

ROUTES = [
    RouteSpec("weather", ["what is the weather today", "will it rain tomorrow", "weather forecast for paris"]),
    RouteSpec("timer", ["set a timer for ten minutes", "start a timer", "countdown timer for one hour"]),
]


def make(routes=ROUTES, factory=None):
    settings = load_settings(overrides={"router": {"embedder": "fake"}})
    return RouterService(settings, routes=lambda: routes, embedder_factory=factory or FakeEmbedder)


def test_start_returns_at_once_and_becomes_ready():
    gate = threading.Event()

    def slow_embedder():
        gate.wait(5)  # stands in for importing torch
        return FakeEmbedder()

    svc = make(factory=slow_embedder)
    assert svc.state[0] == "cold"
    svc.start()
    assert svc.state[0] == "loading"
    assert not svc.wait_ready(0.05)
    gate.set()
    assert svc.wait_ready(5)
    state, detail = svc.state
    assert state == "ready" and "2 skills" in detail
    assert svc.route("will it rain tomorrow in rome").skill == "weather"


def test_failed_build_is_a_state_and_route_falls_back():
    def broken():
        raise RouterError("embedding model folder /nope does not exist", "install it")

    svc = make(factory=broken)
    svc.start()
    assert not svc.wait_ready(5)
    state, detail = svc.state
    assert state == "failed" and "/nope" in detail
    choice = svc.route("will it rain", wait=0.1)
    assert choice.skill is None and "not available" in choice.reason


def test_forced_skill_wins_without_routing():
    svc = make()
    choice = svc.route("anything", force="timer")
    assert choice.skill == "timer" and "chosen by the user" in choice.reason


def test_correction_persists_and_is_used_after_rebuild():
    svc = make()
    svc.start()
    assert svc.wait_ready(5)
    assert svc.route("wake me up in twenty").skill != "timer"
    svc.add_example("timer", "wake me up in twenty")
    assert svc.wait_ready(5)
    assert svc.route("wake me up in twenty").skill == "timer"
    # A new service (a restart) reads the saved correction.
    again = make()
    again.start()
    assert again.wait_ready(5)
    assert again.route("wake me up in twenty").skill == "timer"


def test_correction_to_unknown_skill_is_refused():
    svc = make()
    svc.start()
    svc.wait_ready(5)
    try:
        svc.add_example("nope", "text")
    except RouterError as exc:
        assert "unknown skill" in exc.message and "timer" in exc.hint
    else:
        raise AssertionError("expected RouterError")


class _SlowEmbedder(FakeEmbedder):
    """Each batch takes a while, like the real model on a large set."""

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started

    def encode(self, texts):
        self.started.set()
        threading.Event().wait(0.2)
        return super().encode(texts)


def test_close_stops_a_build_in_progress_and_waits_for_its_thread():
    started = threading.Event()
    many = [RouteSpec(f"skill{i}", [f"example {i} number {j}" for j in range(64)]) for i in range(20)]
    svc = make(routes=many, factory=lambda: _SlowEmbedder(started))
    svc.start()
    assert started.wait(10)
    svc.close(timeout=10)
    assert not svc._thread.is_alive()  # stopped well before embedding all 20 routes (4 s)
    assert svc.router is None and svc.state[0] == "loading"
    assert svc.route("example 3", wait=0).skill is None  # falls back, does not raise


def test_close_after_a_finished_build_keeps_the_router():
    svc = make()
    svc.start()
    assert svc.wait_ready(5)
    svc.close()
    assert svc.route("will it rain tomorrow in rome").skill == "weather"
