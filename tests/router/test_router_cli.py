"""`assistant router eval` and `assistant route` end to end (fake embedder via config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ROUTER__EMBEDDER", "fake")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_json_has_the_documented_fields(capsys):
    code, out, err = run(capsys, "router", "eval", "--train", str(DATA / "tiny_train.jsonl"),
                         "--test", str(DATA / "tiny_test.jsonl"), "--json")
    assert code == 0, err
    res = json.loads(out)
    for key in ("accuracy", "oos_recall", "latency_ms_p50", "latency_ms_p95", "n_train", "n_test"):
        assert key in res
    assert res["n_train"] == 15 and res["n_test"] == 8
    assert 0.0 <= res["accuracy"] <= 1.0 and 0.0 <= res["oos_recall"] <= 1.0
    assert res["calibration"]["method"] == "leave-routes-out cross-validation"
    assert "embedding" in err  # the progress bar went to stderr


def test_eval_with_val_and_per_label(capsys, tmp_path):
    val = tmp_path / "val.jsonl"
    val.write_text('{"text": "is it cold outside", "label": "weather"}\n{"text": "play some jazz", "label": "oos"}\n')
    code, out, _ = run(capsys, "router", "eval", "--train", str(DATA / "tiny_train.jsonl"), "--test",
                       str(DATA / "tiny_test.jsonl"), "--val", str(val), "--per-label", "2", "--seed", "1", "--json")
    res = json.loads(out)
    assert code == 0 and res["n_train"] == 6 and res["calibration"]["method"] == "validation set"


def test_eval_test_without_oos_reports_null_recall(capsys, tmp_path):
    test = tmp_path / "t.jsonl"
    test.write_text('{"text": "will it rain tomorrow", "label": "weather"}\n')
    _, out, _ = run(capsys, "router", "eval", "--train", str(DATA / "tiny_train.jsonl"), "--test", str(test), "--json")
    assert json.loads(out)["oos_recall"] is None


@pytest.mark.parametrize("bad, why", [
    ('{"text": "a", "label": "x"}\n{"text": "b", "label"\n', "invalid JSON"),
    ('{"text": "a", "label": "x"}\n["text", "label"]\n', "expected a JSON object"),
    ('{"text": "a", "label": "x"}\n{"text": "", "label": "x"}\n', "'text' must be a non-empty string"),
    ('{"text": "a", "label": "x"}\n{"text": "b", "label": 3}\n', "'label' must be a non-empty string"),
])
def test_malformed_line_names_file_and_line(capsys, tmp_path, bad, why):
    train = tmp_path / "train.jsonl"
    train.write_text(bad)
    code, out, err = run(capsys, "router", "eval", "--train", str(train), "--test", str(DATA / "tiny_test.jsonl"))
    assert code == 2 and out == ""
    assert f"{train}, line 2" in err and why in err and "hint:" in err


def test_empty_file_is_a_clear_error(capsys, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code, _, err = run(capsys, "router", "eval", "--train", str(DATA / "tiny_train.jsonl"), "--test", str(empty))
    assert code == 2 and "has no examples" in err and str(empty) in err


def test_missing_file_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "router", "eval", "--train", str(tmp_path / "nope.jsonl"), "--test", str(tmp_path / "x"))
    assert code == 2 and "no such file" in err


def test_route_explains_decision(capsys):
    code, out, _ = run(capsys, "route", "set a timer for ten minutes", "--routes", str(DATA / "tiny_train.jsonl"), "--json")
    res = json.loads(out)
    assert code == 0 and res["skill"] == "timer" and res["routed_to"] == "timer"
    assert res["candidates"][0][0] == "timer" and res["threshold"] > 0 and "margin" in res
    code, out, _ = run(capsys, "route", "set a timer for ten minutes", "--routes", str(DATA / "tiny_train.jsonl"))
    assert "-> timer" in out and "threshold" in out and "margin" in out


def test_route_that_fits_nothing_falls_back(capsys):
    code, out, _ = run(capsys, "route", "qwzx vbkj", "--routes", str(DATA / "tiny_train.jsonl"))
    assert code == 0 and "-> chat" in out and "(fallback)" in out


def test_correct_saves_an_example(capsys, isolated_home):
    code, out, _ = run(capsys, "router", "correct", "timer", "wake me in ten")
    assert code == 0
    saved = (isolated_home / "router" / "corrections.jsonl").read_text()
    assert json.loads(saved) == {"text": "wake me in ten", "label": "timer"}


def test_eval_combines_train_files_and_uses_oos_lines_as_negatives(capsys, tmp_path):
    negatives = tmp_path / "oos_train.jsonl"
    negatives.write_text('{"text": "tell me a joke about cats", "label": "oos"}\n'
                         '{"text": "who won the football match", "label": "oos"}\n')
    code, out, _ = run(capsys, "router", "eval", "--train", str(DATA / "tiny_train.jsonl"),
                       "--train", str(negatives), "--test", str(DATA / "tiny_test.jsonl"), "--json")
    res = json.loads(out)
    assert code == 0 and res["n_train"] == 17


def test_eval_reports_the_calibration_its_target_and_the_trade_off(capsys):
    args = ["router", "eval", "--train", str(DATA / "tiny_train.jsonl"), "--test", str(DATA / "tiny_test.jsonl")]
    code, out, err = run(capsys, *args, "--keep-in-scope", "1.0", "--json")
    assert code == 0, err
    res = json.loads(out)
    cal = res["calibration"]
    assert cal["keep_in_scope"] == 1.0 and cal["in_scope_retention"] == 1.0
    assert cal["method"].startswith("leave-routes-out cross-validation")
    assert [p["keep"] for p in cal["curve"]][:3] == [1.0, 0.995, 0.99]
    assert len(res["test_curve"]) == len(cal["curve"])
    first = res["test_curve"][0]
    assert first["threshold"] == cal["curve"][0]["threshold"] and 0 <= first["accuracy"] <= 1
    code, out, _ = run(capsys, *args)
    assert code == 0 and "expected there" in out and "in-scope kept" in out
    code, _, err = run(capsys, *args, "--keep-in-scope", "1.5")
    assert code == 2 and "--keep-in-scope must be between 0.5 and 1" in err


def test_route_reports_the_calibration(capsys):
    code, out, _ = run(capsys, "route", "set a timer for ten minutes", "--routes", str(DATA / "tiny_train.jsonl"), "--json")
    cal = json.loads(out)["calibration"]
    assert code == 0 and "curve" not in cal
    assert cal["keep_in_scope"] == 0.98 and 0 < cal["in_scope_retention"] <= 1
    code, out, _ = run(capsys, "route", "set a timer for ten minutes", "--routes", str(DATA / "tiny_train.jsonl"))
    assert "calibration expects" in out and "of in-scope requests kept" in out
