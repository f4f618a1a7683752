"""Router behaviour with the deterministic fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.backends.base import ChatMessage
from assistant.router.calibration import best_threshold
from assistant.router.embedders import FakeEmbedder
from assistant.router.router import Router
from assistant.router.types import RouteSpec

ROUTES = [
    RouteSpec("weather", ["what is the weather today", "will it rain tomorrow", "weather forecast for paris",
                          "is it sunny in rome", "temperature outside now", "will it snow this weekend"]),
    RouteSpec("translate", ["translate hello to french", "how do you say cat in spanish", "translate this to german",
                            "say thank you in japanese", "what is dog in italian", "translate good night to dutch"]),
    RouteSpec("timer", ["set a timer for ten minutes", "start a timer", "timer for five minutes please",
                        "countdown timer for one hour", "set a kitchen timer", "stop the timer"]),
]


def build(routes=ROUTES, tmp_path=None, **kw) -> Router:
    return Router.build(routes, FakeEmbedder(), tmp_path, **kw)


def test_routes_in_scope_requests_to_their_skill():
    router = build()
    assert router.route("what will the weather be in paris").skill == "weather"
    assert router.route("translate good morning to french").skill == "translate"
    assert router.route("set a timer for twenty minutes").skill == "timer"


def test_unrelated_request_falls_back_with_reason():
    router = build()
    choice = router.route("qzx vbnm plork")
    assert choice.skill is None
    assert "below the threshold" in choice.reason
    assert choice.score < choice.threshold
    assert choice.skill_or("chat") == "chat"


def test_choice_explains_candidates_margin_threshold():
    choice = build().route("will it rain in rome tomorrow")
    assert choice.skill == "weather"
    names = [n for n, _ in choice.candidates]
    assert names[0] == "weather" and set(names) == {"weather", "translate", "timer"}
    assert choice.margin == pytest.approx(choice.score - choice.runner_up_score)
    assert choice.runner_up == names[1]
    assert "weather" in choice.reason and "threshold" in choice.reason


def test_threshold_fitted_from_data_separates_scores():
    in_scores = np.array([0.9, 0.85, 0.8, 0.75, 0.7])
    correct = np.array([True, True, True, True, False])
    oos = np.array([0.3, 0.4, 0.5, 0.72])
    cal = best_threshold(in_scores, correct, oos, "test")
    # Best split accepts the four correct ones (>= 0.75) and rejects the 0.72 out-of-scope.
    assert 0.72 < cal.threshold <= 0.75
    assert cal.in_scope_accuracy == pytest.approx(0.8)
    assert cal.oos_recall == pytest.approx(1.0)


def test_threshold_comes_from_validation_when_given(tmp_path):
    from assistant.router.data import Example

    val = [Example("weather forecast for rome", "weather"), Example("translate dog to french", "translate"),
           Example("set a timer", "timer"), Example("quantum chromodynamics lecture", "oos"),
           Example("buy cheap shoes online", "oos")]
    router = build(val=val)
    assert router.calibration.method == "validation set"
    assert router.calibration.n_oos == 2 and router.calibration.n_in_scope == 3
    cv = build()
    assert cv.calibration.method.startswith("leave-routes-out cross-validation")
    assert 0.0 < cv.threshold < 1.0


def test_empty_route_list_always_falls_back():
    router = build([])
    choice = router.route("anything at all")
    assert choice.skill is None and choice.candidates == []
    assert "no skill" in choice.reason


def test_skill_with_one_example_is_routable():
    router = build([RouteSpec("joke", ["tell me a joke"])])
    assert router.route("tell me a joke").skill == "joke"
    assert router.route("compile the kernel with clang").skill is None


def test_duplicate_examples_across_skills_do_not_break_routing():
    routes = ROUTES + [RouteSpec("forecast", ["weather forecast for paris", "long range forecast"])]
    router = build(routes)
    choice = router.route("weather forecast for paris")
    assert choice.skill in {"weather", "forecast"}
    assert {choice.skill, choice.runner_up} == {"weather", "forecast"}
    assert router.route("translate hello to french").skill == "translate"


def test_negatives_send_near_misses_to_fallback():
    routes = [RouteSpec("weather", ROUTES[0].examples, negatives=["weather the storm of a breakup", "how to weather a crisis"]),
              ROUTES[1], ROUTES[2]]
    # Threshold by accuracy + recall alone: with six examples a route, keeping 98 % of the
    # cross-validated requests would accept anything the toy embedder scores at all.
    router = build(routes, keep_in_scope=None)
    assert router.route("how to weather a crisis at work").skill is None
    assert router.route("will it rain tomorrow in rome").skill == "weather"


def test_followup_stays_with_previous_skill():
    router = build()
    history = [ChatMessage("user", "what is the weather in paris"), ChatMessage("assistant", "Sunny.")]
    choice = router.route("and tomorrow?", history, previous_skill="weather")
    assert choice.skill == "weather" and choice.followup
    assert "follow-up" in choice.reason
    # The same words without a previous turn do not stick to anything.
    assert not router.route("and tomorrow?").followup


def test_followup_of_fallback_turn_stays_fallback():
    choice = build().route("and another one?", [ChatMessage("user", "tell me a fun fact")], previous_skill="chat")
    assert choice.skill is None and choice.followup


def test_clear_new_request_leaves_previous_skill():
    router = build()
    history = [ChatMessage("user", "what is the weather in paris")]
    choice = router.route("set a timer for ten minutes please", history, previous_skill="weather")
    assert choice.skill == "timer" and not choice.followup


def test_cache_reuses_unchanged_routes_and_invalidates_changed(tmp_path):
    emb = FakeEmbedder()
    Router.build(ROUTES, emb, tmp_path)
    first = emb.calls
    assert first == sum(len(r.examples) for r in ROUTES)
    Router.build(ROUTES, emb, tmp_path)  # restart: nothing re-embedded
    assert emb.calls == first
    changed = [RouteSpec("weather", ROUTES[0].examples + ["is it foggy in london"]), ROUTES[1], ROUTES[2]]
    router = Router.build(changed, emb, tmp_path)
    assert emb.calls == first + len(changed[0].examples)  # only the changed skill
    assert router.route("is it foggy in london").skill == "weather"


def test_cached_head_gives_same_threshold(tmp_path):
    a = Router.build(ROUTES, FakeEmbedder(), tmp_path)
    assert list((tmp_path / "heads").glob("*.npz"))
    b = Router.build(ROUTES, FakeEmbedder(), tmp_path)
    assert a.threshold == b.threshold and a.key == b.key


def test_corrupt_cache_file_is_recomputed(tmp_path):
    emb = FakeEmbedder()
    Router.build(ROUTES, emb, tmp_path)
    for f in tmp_path.rglob("*.np*"):
        f.write_bytes(b"garbage")
    router = Router.build(ROUTES, emb, tmp_path)
    assert router.route("set a timer for ten minutes").skill == "timer"
