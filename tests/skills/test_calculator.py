"""The calculator reads everyday wording, stays exact and safe, and hands non-calculations over."""

from __future__ import annotations

import importlib.util
import time

import pytest

from assistant.errors import HandOff
from assistant.events import ReplyFinished, RouteDecided
from assistant.skills.loader import BUILTIN_SKILLS_DIR


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"test_calc_{name}", BUILTIN_SKILLS_DIR / name / "skill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


calc = _module("calculator")


@pytest.mark.parametrize("text,reply", [
    ("what is 6 times 7", "6 × 7 = 42"),
    ("how much is 15 plus 27", "15 + 27 = 42"),
    ("100 divided by 8", "100 ÷ 8 = 12.5"),
    ("what's 12 squared", "12^2 = 144"),
    ("square root of 1764", "sqrt(1764) = 42"),
    ("what's 15 percent of 80", "15% × 80 = 12"),
    ("what is 20% off 250", "250 - 20% = 200"),
    ("average of 4, 8 and 15", "mean(4, 8, 15) = 9"),
    ("what's 1/3 plus 1/6", "1/3 + 1/6 = 0.5"),
    ("what is three hundred and twelve minus forty five", "312 - 45 = 267"),
    ("if I split a $84 bill between 4 people how much does each pay", "$84 ÷ 4 = $21"),
    ("split $100 between 3 people", "$100 ÷ 3 ≈ $33.33"),
    ("how many ounces in 2 pounds", "2 pounds = 32 ounces"),
    ("how many MB is 3 GB", "3 GB = 3000 MB"),
    ("5 km to miles", "5 km ≈ 3.10685596119 miles"),
    ("100 F to C", "100 °F ≈ 37.7777777778 °C"),
    ("100 divided by 3", "100 ÷ 3 = 100/3 ≈ 33.3333333333"),
    ("what is 30 as a percentage of 120", "30/120 = 25%"),
    ("cube root of 27", "cbrt(27) = 3"),
    ("what is 5 factorial", "5! = 120"),
    ("half of 250", "1/2 × 250 = 125"), ("two thirds of 90", "2/3 × 90 = 60"),
    ("1 km + 500 m", "1 km + 500 m = 1.5 km"),
    ("how many square feet in a square meter", "1 meter² ≈ 10.7639104167 square feet"),
    ("60 mph to km/h", "60 mph = 96.56064 km/h"),
])
def test_reads_everyday_phrasing(text, reply):
    assert calc.answer(text).text() == reply


def test_plain_arithmetic_stays_exact():
    assert calc.calculate("0.1 + 0.2") == "0.3"
    assert calc.calculate("1/3 + 1/3 + 1/3") == "1"
    assert calc.calculate("2 ** 100") == str(2**100)
    assert calc.answer("sqrt(2)").text() == "sqrt(2) ≈ 1.41421356237"


@pytest.mark.parametrize("evil,why", [
    ("10**10**10", "too large"), ("9 ** 9 ** 9", "too large"), ("2 ** 99999", "too large"),
    ("factorial(5000)", "factorial"), ("10 ** -10 ** 10", "too large"), ("e ** 1000000", "exponent is too large"),
    ("(" * 150 + "1" + ")" * 150, "too long"), ("9" * 100_000, "too long"), ("1 / 0", "division by zero"),
    ("5 km ** 100", "power"), ("5 kg + 3 m", "different kinds"),
    ("__import__('os').system('ls')", "not allowed"), ("().__class__", "not allowed"), ("'abc' * 3", "not allowed"),
])
def test_hostile_input_fails_fast_with_a_clear_reason(evil, why):
    started = time.perf_counter()
    with pytest.raises(calc.CalcError, match=why):
        calc.answer(evil)
    assert time.perf_counter() - started < 1.0


def test_unit_names_never_reach_pints_parser():
    units = calc.core.show.U
    for name in ("__class__", "define", "Quantity", "m**99999", "km/h", "1e9"):
        assert units.canonical(name) is None, name
    assert units.canonical("kilometers") == "kilometer" and units.canonical("C") == "degree_Celsius"


def test_datetime_shares_the_conversion_path():
    dt = _module("datetime")
    assert dt.load_calclib() is calc.core  # one module, one pint registry
    assert calc.core.conversion("how many seconds are in a day").text() == "1 day = 86400 seconds"
    assert calc.core.conversion("what is 6 times 7") is None


def test_not_a_calculation_is_handed_over_without_a_model(run):
    with pytest.raises(HandOff):
        run("calculator", "tell me a joke about penguins")
    assert run.requests == []


def test_the_model_only_translates_and_the_reply_says_so(run):
    out, _ = run("calculator", "what is seven score and ten", script=['{"expression": "7 * 20 + 10"}'])
    assert out == "I read this as: 7 × 20 + 10 = 150"
    request = run.requests[0]
    assert request.json_schema["properties"]["expression"]["pattern"] == calc.EXPRESSION_PATTERN
    assert request.temperature == 0.0


@pytest.mark.parametrize("reply", ['{"expression": "none"}', "not json", '{"expression": "banana split"}'])
def test_a_model_that_cannot_read_it_hands_over(run, reply):
    with pytest.raises(HandOff):
        run("calculator", "what is seven score and ten", script=[reply])
    assert len(run.requests) == 1


def test_pipeline_gives_a_declined_turn_to_chat():
    from assistant.config import load_settings
    from assistant.pipeline import build_pipeline

    pipeline = build_pipeline(load_settings(), fake=True)
    try:
        text = "tell me a joke about penguins"
        pipeline.start()
        assert pipeline.router.wait_ready(60)
        pipeline.save_correction("calculator", text)  # the fake embedder routes it to the calculator
        assert pipeline.router.wait_ready(60) and pipeline.explain(None, text).skill == "calculator"
        events = list(pipeline.run_turn(None, text))
        routes = [e for e in events if isinstance(e, RouteDecided)]
        assert [r.route.skill for r in routes] == ["calculator", "chat"]
        assert "calculator handed the turn over" in routes[-1].route.reason
        done = events[-1]
        assert isinstance(done, ReplyFinished) and done.skill == "chat" and done.status == "complete"
        stored = pipeline.store.messages(done.conversation_id)
        assert [(m.role, m.skill) for m in stored] == [("user", None), ("assistant", "chat")]
        assert stored[1].content == done.text and done.text
        forced = list(pipeline.run_turn(None, text, skill="calculator"))
        assert "not a calculation" in forced[-1].error  # chosen by the user: no hand-off
    finally:
        pipeline.close()


@pytest.mark.parametrize("text", ["how much is a grand minus 250", "tell me the total of eleven and a couple",
                                  "what do I get if I add nine to a gross", "5 km miles", "6 7"])
def test_words_it_cannot_read_are_never_silently_dropped(text):
    with pytest.raises(calc.CalcError) as info:
        calc.answer(text)
    assert info.value.unreadable  # so the model, or the chat skill, gets to read it instead


def test_a_slow_model_gives_up_and_hands_over(run, monkeypatch):
    # the registry's own copy of the skill module: a budget of 0 s runs out after the first token
    monkeypatch.setitem(run.registry.get("calculator").handler.__globals__, "INFER_BUDGET_S", 0.0)
    with pytest.raises(HandOff):
        run("calculator", "what is seven score and ten", script=['{"expression": "7 * 20 + 10"}'])
