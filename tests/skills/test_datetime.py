"""The datetime skill reads relative dates against its clock and shares the calculator's durations."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime

import pytest

from assistant.skills.loader import BUILTIN_SKILLS_DIR


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"test_dt_{name}", BUILTIN_SKILLS_DIR / name / "skill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dt = _module("datetime")
WEDNESDAY = date(2025, 3, 12)


class _Ctx:
    def __init__(self, text: str, now: str = "2025-03-12T10:00:00+00:00", zone: str = "UTC") -> None:
        self.text = text
        self.settings = {"timezone": zone}
        self.clock = lambda: datetime.fromisoformat(now)


@pytest.mark.parametrize("phrase,want", [
    ("next friday", date(2025, 3, 14)), ("friday", date(2025, 3, 14)), ("this wednesday", WEDNESDAY),
    ("next wednesday", date(2025, 3, 19)), ("last wednesday", date(2025, 3, 5)), ("monday after next", date(2025, 3, 24)),
    ("the last day of february 2028", date(2028, 2, 29)), ("last day of february 2027", date(2027, 2, 28)),
    ("first day of next month", date(2025, 4, 1)), ("last friday of may 2025", date(2025, 5, 30)),
    ("first monday of june", date(2025, 6, 2)), ("end of the year", date(2025, 12, 31)), ("in 3 weeks", date(2025, 4, 2)),
    ("2 days ago", date(2025, 3, 10)), ("christmas 2030", date(2030, 12, 25)), ("march 5 2025", date(2025, 3, 5)),
])
def test_relative_dates_follow_the_clock(phrase, want):
    assert dt.parse_date(phrase, WEDNESDAY) == want


def test_words_that_are_not_dates_stay_unparsed():
    assert dt.parse_date("banana", WEDNESDAY) is None
    assert dt.parse_date("the meeting", WEDNESDAY) is None


@pytest.mark.parametrize("text,want", [
    ("what's the date next friday", "Friday, 14 March 2025 (2025-03-14)."),
    ("what date is it in three weeks", "Wednesday, 2 April 2025 (2025-04-02)."),
    ("when is the last day of february 2028", "Tuesday, 29 February 2028 (2028-02-29)."),
    ("how many days in february 2028", "February 2028 has 29 days."),
    ("is 2100 a leap year", "No, 2100 is not a leap year."),
    ("how many weeks until christmas", "288 days (41 weeks and 1 day) until Thursday, 25 December 2025 (2025-12-25)."),
    ("when it's 6pm in tokyo what time is it in berlin", "18:00 in Asia/Tokyo is 10:00 in Europe/Berlin."),
    # Words after the place that say when, not where.
    ("what time is it in Tokyo right now?", "It is 19:00 on Wednesday, 12 March 2025 (2025-03-12) in Asia/Tokyo (UTC+09:00)."),
    ("what's the time in berlin at the moment", "It is 11:00 on Wednesday, 12 March 2025 (2025-03-12) in Europe/Berlin (UTC+01:00)."),
    ("convert 3pm in london to new york time", "15:00 in Europe/London is 11:00 in America/New_York."),
    ("what time is it in narnia right now", "I don't know the time zone of 'narnia right now'. Try a city like Tokyo or a zone like Europe/Berlin."),
])
def test_answers(text, want):
    assert dt.answer(_Ctx(text)) == want


def test_durations_are_the_calculators_answers():
    calc = _module("calculator")
    for text in ("how many seconds are in a day", "how many hours is 90 minutes", "how many minutes in 3 hours"):
        assert dt.answer(_Ctx(text)) == calc.answer(text).text()
    assert dt.answer(_Ctx("how many seconds are in a day")) == "1 day = 86400 seconds"


def test_the_answer_does_not_depend_on_the_real_date():
    a = dt.answer(_Ctx("what's the date next monday", now="2025-03-12T10:00:00+00:00"))
    b = dt.answer(_Ctx("what's the date next monday", now="2031-06-01T10:00:00+00:00"))
    assert "2025-03-17" in a and "2031-06-02" in b


def test_long_input_is_refused_quickly():
    assert "too long" in dt.answer(_Ctx("9" * 100_000))
