"""Threshold calibration: the in-scope retention target, the trade-off curve, the stored form."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.router.calibration import Calibration, best_threshold, confident_keep, keep_threshold
from assistant.router.embedders import FakeEmbedder
from assistant.router.router import Router
from tests.router.test_router_core import ROUTES


def _scores(seed: int = 0):
    """In-scope scores around 0.85, pseudo out-of-scope around 0.75: the overlap CV sees."""
    rng = np.random.default_rng(seed)
    in_s = np.clip(rng.normal(0.85, 0.05, 1000), 0, 1)
    ok = rng.random(1000) < 0.97
    oos = np.clip(rng.normal(0.75, 0.05, 1000), 0, 1)
    return in_s, ok, oos


@pytest.mark.parametrize("keep", [0.9, 0.95, 0.98, 1.0])
def test_keep_threshold_keeps_at_least_that_share_of_correct_requests(keep):
    in_s, ok, _ = _scores()
    t = keep_threshold(in_s, ok, keep)
    kept = np.mean(in_s[ok] >= t)
    assert kept >= keep
    # ... and it is the highest such threshold: one more correct request dropped breaks it.
    assert np.mean(in_s[ok] > np.sort(in_s[ok])[np.sum(in_s[ok] < t)]) < keep


def test_objective_threshold_is_lowered_to_the_retention_target():
    in_s, ok, oos = _scores()
    free = best_threshold(in_s, ok, oos, "cv")
    held = best_threshold(in_s, ok, oos, "cv", keep=0.98)
    assert free.in_scope_retention < 0.98  # accuracy + recall alone gives up in-scope requests
    assert held.threshold < free.threshold
    assert held.in_scope_retention >= 0.98
    assert held.oos_recall < free.oos_recall  # the price, reported
    assert held.keep_in_scope == 0.98 and "lowered to keep 98.0%" in held.method
    assert held.in_scope_accuracy == pytest.approx(np.mean(ok & (in_s >= held.threshold)))


def test_few_cross_validated_requests_keep_more_of_them():
    in_s, ok, oos = _scores()
    many = best_threshold(in_s, ok, oos, "cv", keep=0.98)
    few = best_threshold(in_s[:60], ok[:60], oos[:60], "cv", keep=0.98)
    assert confident_keep(0.98, int(ok[:60].sum())) == 1.0 and few.in_scope_retention == 1.0
    assert 0.98 < confident_keep(0.98, int(ok.sum())) < 0.99 and many.in_scope_retention < 0.99
    assert confident_keep(0.98, 10**9) == pytest.approx(0.98, abs=1e-4)
    assert "95% confidence over" in few.method


def test_a_target_the_objective_already_meets_changes_nothing():
    in_s, ok, oos = _scores()
    free = best_threshold(in_s, ok, oos, "cv")
    loose = best_threshold(in_s, ok, oos, "cv", keep=0.6)
    assert loose.threshold == free.threshold and loose.method == "cv"


def test_curve_trades_in_scope_accuracy_for_oos_recall_monotonically():
    in_s, ok, oos = _scores()
    curve = best_threshold(in_s, ok, oos, "cv", keep=0.98).curve
    keeps = [p["keep"] for p in curve]
    assert keeps == sorted(keeps, reverse=True) and keeps[0] == 1.0
    ts = [p["threshold"] for p in curve]
    acc = [p["in_scope_accuracy"] for p in curve]
    rec = [p["oos_recall"] for p in curve]
    assert ts == sorted(ts) and acc == sorted(acc, reverse=True) and rec == sorted(rec)
    for p in curve:
        assert np.mean(in_s[ok] >= p["threshold"]) >= p["keep"]


def test_no_oos_data_gives_no_recall_but_a_curve():
    in_s, ok, _ = _scores()
    cal = best_threshold(in_s, ok, np.zeros(0), "val")
    assert cal.oos_recall is None and all(p["oos_recall"] is None for p in cal.curve)


def test_calibration_round_trips_through_its_dict():
    in_s, ok, oos = _scores()
    cal = best_threshold(in_s, ok, oos, "cv", keep=0.97)
    assert Calibration.from_dict(cal.as_dict()) == cal
    assert "curve" not in cal.as_dict(curve=False)


def test_router_records_the_target_and_the_cache_keeps_targets_apart(tmp_path):
    held = Router.build(ROUTES, FakeEmbedder(), tmp_path, keep_in_scope=1.0)
    free = Router.build(ROUTES, FakeEmbedder(), tmp_path, keep_in_scope=None)
    assert held.calibration.keep_in_scope == 1.0 and free.calibration.keep_in_scope is None
    assert held.key != free.key
    assert held.calibration.threshold <= free.calibration.threshold
    again = Router.build(ROUTES, FakeEmbedder(), tmp_path, keep_in_scope=1.0)  # from the cache
    assert again.calibration == held.calibration
