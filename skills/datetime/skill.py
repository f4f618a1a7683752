"""Date and time skill: current time in a place, conversions between zones, date arithmetic.

Deterministic (zoneinfo, no model). The current time comes from ``ctx.clock`` so answers can
be checked exactly; the user's zone is ``[settings] timezone`` or the system's. Relative dates
("next friday", "the last day of february 2028") are read here, then by dateparser with the
clock as its base; duration questions ("how many seconds are in a day") go through the
calculator's reader, so both skills answer them the same way.
"""

from __future__ import annotations

import calendar
import hashlib
import importlib
import importlib.util
import re
import sys
import zoneinfo
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Iterator

from assistant.skills import SkillContext

MAX_CHARS = 300
CALCLIB = Path(__file__).resolve().parent.parent / "calculator" / "calclib"
WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)} | {
    d.lower(): i for i, d in enumerate(calendar.day_abbr)}

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
ALIASES = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC", "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles",
    "est": "America/New_York", "edt": "America/New_York", "cst": "America/Chicago", "cet": "Europe/Paris",
    "cest": "Europe/Paris", "bst": "Europe/London", "ist": "Asia/Kolkata", "jst": "Asia/Tokyo",
    "aest": "Australia/Sydney", "new york": "America/New_York", "nyc": "America/New_York",
    "san francisco": "America/Los_Angeles", "seattle": "America/Los_Angeles", "california": "America/Los_Angeles",
    "washington": "America/New_York", "boston": "America/New_York", "miami": "America/New_York",
    "beijing": "Asia/Shanghai", "china": "Asia/Shanghai", "japan": "Asia/Tokyo", "india": "Asia/Kolkata",
    "delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "germany": "Europe/Berlin",
    "france": "Europe/Paris", "uk": "Europe/London", "england": "Europe/London", "spain": "Europe/Madrid",
    "italy": "Europe/Rome", "brazil": "America/Sao_Paulo", "australia": "Australia/Sydney",
    "hawaii": "Pacific/Honolulu", "munich": "Europe/Berlin", "barcelona": "Europe/Madrid",
}


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """'tokyo' -> 'Asia/Tokyo', 'asia/tokyo' -> 'Asia/Tokyo', for every IANA zone."""
    names: dict[str, str] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        names[zone.lower()] = zone
        city = zone.rsplit("/", 1)[-1].replace("_", " ").lower()
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/")):
            names.setdefault(city, zone)
    return names


# Words after a place that say when, not where ("in Tokyo right now", "to New York time").
_WHEN_TAIL = re.compile(r"(?:\s+(?:right now|now|currently|at the moment|today|tonight|please|exactly|time))+$")


def find_zone(text: str) -> zoneinfo.ZoneInfo | None:
    """The time zone a place name, abbreviation or IANA name refers to."""
    key = re.sub(r"[?.!,]", "", text).strip().lower()
    key = re.sub(r"^(the )", "", key)
    key = _WHEN_TAIL.sub("", key)  # "tokyo right now" is Tokyo
    name = ALIASES.get(key) or _zone_names().get(key) or _zone_names().get(key.replace(" ", "_"))
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _local_zone(ctx: SkillContext) -> tzinfo:
    wanted = str(ctx.settings.get("timezone") or "")
    if wanted:
        zone = find_zone(wanted)
        if zone is not None:
            return zone
    return datetime.now().astimezone().tzinfo or UTC


def _label(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def parse_date(text: str, today: date) -> date | None:
    """ISO (2025-03-05, 2025/03/05), "March 5 2025", "5 March 2025", today/tomorrow/yesterday."""
    t = text.strip().lower().rstrip("?.!")
    rel = {"today": 0, "now": 0, "tomorrow": 1, "yesterday": -1}
    if t in rel:
        return today + timedelta(days=rel[t])
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", t)
    if m:
        return _safe_date(int(m[1]), int(m[2]), int(m[3]))
    m = re.fullmatch(r"([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?,? ?(\d{4})?", t)
    if m and m[1] in MONTHS:
        return _safe_date(int(m[3]) if m[3] else today.year, MONTHS[m[1]], int(m[2]))
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)? (?:of )?([a-z]+)\.?,? ?(\d{4})?", t)
    if m and m[2] in MONTHS:
        return _safe_date(int(m[3]) if m[3] else today.year, MONTHS[m[2]], int(m[1]))
    m = re.fullmatch(r"christmas(?: day)?(?: (\d{4}))?", t)
    if m:
        if m[1]:
            return date(int(m[1]), 12, 25)
        nxt = date(today.year, 12, 25)
        return nxt if nxt >= today else date(today.year + 1, 12, 25)
    if t in ("new year", "new year's day", "new years day"):
        return date(today.year + 1, 1, 1)
    return relative_date(t, today)


_NTH = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5}
_MONTH_WORDS = r"(next month|this month|last month|the month|[a-z]+)"


def _month(word: str, year: str | None, today: date) -> tuple[int, int] | None:
    """(year, month) for "march", "march 2028", "next month"."""
    if word in ("this month", "the month"):
        return today.year, today.month
    if word in ("next month", "last month"):
        moved = add_months(today.replace(day=1), 1 if word == "next month" else -1)
        return moved.year, moved.month
    if word in MONTHS:
        return (int(year) if year else today.year), MONTHS[word]
    return None


def relative_date(t: str, today: date) -> date | None:
    """Weekdays ("next friday"), month days ("the last day of february 2028", "first monday of
    june"), "end of the month", then whatever dateparser reads with today as its base."""
    t = re.sub(r"^(?:on|the|this coming|coming)\s+", "", t.strip())
    m = re.fullmatch(r"(?:(next|this|last|coming)\s+)?([a-z]+?)(?:day)?(\s+after next|\s+next week)?", t)
    if m and (m[2] in WEEKDAYS or m[2] + "day" in WEEKDAYS):
        wd = WEEKDAYS.get(m[2], WEEKDAYS.get(m[2] + "day"))
        if m[1] == "last":
            return today - timedelta(days=(today.weekday() - wd - 1) % 7 + 1)
        ahead = (wd - today.weekday() - 1) % 7 + 1 if m[1] == "next" else (wd - today.weekday()) % 7
        return today + timedelta(days=ahead + (7 if m[3] else 0))
    m = re.fullmatch(rf"(first|last) day of (?:the )?{_MONTH_WORDS}(?:,? (\d{{4}}))?", t)
    if m and (found := _month(m[2], m[3], today)):
        year, month = found
        return date(year, month, 1 if m[1] == "first" else calendar.monthrange(year, month)[1])
    m = re.fullmatch(rf"(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last) ([a-z]+) (?:of|in) {_MONTH_WORDS}(?:,? (\d{{4}}))?", t)
    if m and m[2] in WEEKDAYS and (found := _month(m[3], m[4], today)):
        year, month = found
        days = [d for d in range(1, calendar.monthrange(year, month)[1] + 1) if date(year, month, d).weekday() == WEEKDAYS[m[2]]]
        n = -1 if m[1] == "last" else _NTH[m[1]] - 1
        return date(year, month, days[n]) if n < len(days) else None
    m = re.fullmatch(r"(?:the )?(end|start|beginning) of (?:the |this )?(month|year|next month|next year)", t)
    if m:
        base = add_months(today.replace(day=1), 1 if m[2] == "next month" else 12 if m[2] == "next year" else 0)
        if m[2].endswith("year"):
            return date(base.year, 12, 31) if m[1] == "end" else date(base.year, 1, 1)
        return base.replace(day=calendar.monthrange(base.year, base.month)[1]) if m[1] == "end" else base
    m = re.fullmatch(r"next (week|month|year)", t)
    if m:
        return today + timedelta(weeks=1) if m[1] == "week" else add_months(today, 1 if m[1] == "month" else 12)
    return _dateparser(t, today)


def _dateparser(t: str, today: date) -> date | None:
    # Only text that looks like a date: dateparser reads almost anything as *some* date.
    if not re.search(r"\d|\b(?:ago|tomorrow|yesterday|today|next|last|week|month|year|fortnight)\b", t) and not (
            set(t.split()) & (set(MONTHS) | set(WEEKDAYS))):
        return None
    import dateparser

    base = datetime.combine(today, datetime.min.time()).replace(hour=12)
    found = dateparser.parse(t, languages=["en"], settings={
        "RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False,
        "STRICT_PARSING": False, "REQUIRE_PARTS": []})
    return found.date() if found is not None else None


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months; the day of month is clamped (Jan 31 + 1 month = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def shift(day: date, n: int, unit: str) -> date:
    unit = unit.rstrip("s")
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    if unit == "month":
        return add_months(day, n)
    return add_months(day, 12 * n)


def _fmt_date(day: date) -> str:
    return f"{day.strftime('%A')}, {day.day} {day.strftime('%B %Y')} ({day.isoformat()})"


def _parse_clock(text: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", text.strip().lower())
    if not m:
        return None
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[3]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m[3] == "pm" else 0)
    return (hour, minute) if hour < 24 and minute < 60 else None


_UNIT = r"(days?|weeks?|months?|years?)"


def load_calclib() -> ModuleType:
    """The calculator's reader (its ``calclib`` package), imported once under a private name."""
    name = "assistant_calclib_" + hashlib.sha1(str(CALCLIB).encode()).hexdigest()[:10]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CALCLIB / "__init__.py",
                                                      submodule_search_locations=[str(CALCLIB)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.core")


def _digits(low: str) -> str:
    """Numbers in words as digits ("in three weeks"), and "a week" as "1 week"."""
    from text_to_num import alpha2digit

    low = alpha2digit(low, "en", threshold=0)
    return re.sub(r"\b(?:a|an)\s+(?=(?:day|week|month|year|fortnight)s?\b)", "1 ", low)


def _calendar_facts(low: str, today: date) -> str | None:
    """Days in a month, leap years, week and day numbers."""
    m = re.search(rf"how many days (?:are )?(?:there )?in {_MONTH_WORDS}(?:,? (\d{{4}}))?$", low)
    if m and (found := _month(m[1], m[2], today)):
        year, month = found
        return f"{calendar.month_name[month]} {year} has {calendar.monthrange(year, month)[1]} days."
    m = re.search(r"\bis (\d{4}) a leap year$", low) or re.search(r"\bis (this|next|last) year a leap year$", low)
    if m:
        year = int(m[1]) if m[1].isdigit() else today.year + {"this": 0, "next": 1, "last": -1}[m[1]]
        return f"{'Yes' if calendar.isleap(year) else 'No'}, {year} {'is' if calendar.isleap(year) else 'is not'} a leap year."
    m = re.search(r"how many days (?:are )?(?:there )?in (\d{4})$", low)
    if m:
        return f"{m[1]} has {366 if calendar.isleap(int(m[1])) else 365} days."
    if re.search(r"\bwhat week (?:number )?(?:of the year )?is it\b|\bweek number\b|\bwhich week\b", low):
        return f"It is week {today.isocalendar()[1]} of {today.isocalendar()[0]} (ISO weeks)."
    if re.search(r"\bwhat day of the year\b|\bday number\b", low):
        return f"Today is day {today.timetuple().tm_yday} of {today.year}."
    m = re.search(r"how many days (?:are )?(?:left|remaining) (?:in|until the end of) (?:the|this) (year|month)$", low)
    if m:
        end = date(today.year, 12, 31) if m[1] == "year" else today.replace(day=calendar.monthrange(today.year, today.month)[1])
        return f"{(end - today).days} days left in this {m[1]} (until {end.isoformat()})."
    return None


_ASKS_DATE = re.compile(
    r"^(?:(?:what|which)(?:'s| is| was| will be)?|when(?:'s| is| was| will be)?|tell me)\s+(?:(?:is|was|will be)\s+)?"
    r"(?:the\s+)?(?:date|day(?: of the week)?|weekday)?\s*(?:is it|was it|will it be|is|was|will be|falls on|of|on|will|does|did)?\s*(.+?)"
    r"(?:\s+(?:fall|falls|land|lands|be) on)?$")


def answer(ctx: SkillContext) -> str:
    """The answer to a date/time question, or how to ask one."""
    text = ctx.text.strip()
    if len(text) > MAX_CHARS:
        return f"That is too long for a date question (over {MAX_CHARS} characters)."
    low = _digits(text.lower().rstrip("?.! ").replace("’", "'"))
    local = _local_zone(ctx)
    now = ctx.clock().astimezone(local)
    today = now.date()

    m = re.search(r"(?:when|if) it'?s (\d{1,2}(?::\d{2})?\s*(?:am|pm)?) in (.+?),? (?:what time is it|what's the time|what time|the time) in (.+)$",
                  low) or re.search(r"(\d{1,2}(?::\d{2})?\s*(?:am|pm)?)\s+(?:in\s+)?(.+?)\s+(?:to|in|is what in|for)\s+(.+)$", low)
    if m and _parse_clock(m[1]) and find_zone(m[2]) and find_zone(m[3]):
        hour, minute = _parse_clock(m[1])  # type: ignore[misc]
        src, dst = find_zone(m[2]), find_zone(m[3])
        start = datetime.combine(now.astimezone(src).date(), datetime.min.time(), src).replace(hour=hour, minute=minute)
        out = start.astimezone(dst)
        days = (out.date() - start.date()).days
        note = {0: "", 1: " (the next day)", -1: " (the day before)"}.get(days, "")
        return f"{start.strftime('%H:%M')} in {_label(src)} is {out.strftime('%H:%M')} in {_label(dst)}{note}."
    m = re.search(r"(?:time|clock)\b.*?\b(?:in|at)\s+(.+)$", low) or re.fullmatch(r"(?:what time is it|time) in (.+)", low)
    if m:
        zone = find_zone(m[1])
        if zone is None:
            return f"I don't know the time zone of '{m[1]}'. Try a city like Tokyo or a zone like Europe/Berlin."
        there = now.astimezone(zone)
        return f"It is {there.strftime('%H:%M')} on {_fmt_date(there.date())} in {_label(zone)} (UTC{there.strftime('%z')[:3]}:{there.strftime('%z')[3:]})."
    converted = load_calclib().conversion(text)
    if converted is not None:  # "how many seconds are in a day": the calculator's reading, shared
        return converted.text()
    fact = _calendar_facts(low, today)
    if fact is not None:
        return fact
    if re.search(r"\b(what time is it|current time|time now|the time)\b", low):
        return f"It is {now.strftime('%H:%M')} on {_fmt_date(today)} ({_label(local)})."
    m = re.search(r"(?:days?|weeks?) (?:between|from) (.+?) (?:and|to|until) (.+)$", low)
    if m and parse_date(m[1], today) and parse_date(m[2], today):
        a, b = parse_date(m[1], today), parse_date(m[2], today)
        n = (b - a).days  # type: ignore[operator]
        return f"{abs(n)} days between {a.isoformat()} and {b.isoformat()}."  # type: ignore[union-attr]
    m = re.search(r"(?:how many (days|weeks)|(days|weeks)|how long) (?:is it |has it been )?(?:until|till|til|to|before|since) (.+)$", low)
    if m and (target := parse_date(m[3], today)):
        n = (target - today).days
        text_n = f"{abs(n)} days" + (f" ({abs(n) // 7} weeks and {abs(n) % 7} day{'' if abs(n) % 7 == 1 else 's'})" if (m[1] or m[2]) == "weeks" or
                                      (not (m[1] or m[2]) and abs(n) >= 14) else "")
        return f"{text_n} until {_fmt_date(target)}." if n >= 0 else f"{text_n} since {_fmt_date(target)}."
    m = re.search(rf"(\d+) {_UNIT} (from|after|before|ago)\s*(.*)$", low) or re.search(rf"\bin (\d+) {_UNIT}()()$", low)
    if m:
        base = parse_date(m[4], today) if m[4] else today
        if base is not None:
            sign = -1 if m[3] in ("before", "ago") else 1
            return f"{_fmt_date(shift(base, sign * int(m[1]), m[2]))}."
    m = re.search(rf"(.+?)\s*(\+|-|plus|minus)\s*(\d+) {_UNIT}$", low)
    if m and parse_date(re.sub(r"^(what is|what's|when is)\s+", "", m[1]), today):
        base = parse_date(re.sub(r"^(what is|what's|when is)\s+", "", m[1]), today)
        sign = -1 if m[2] in ("-", "minus") else 1
        return f"{_fmt_date(shift(base, sign * int(m[3]), m[4]))}."  # type: ignore[arg-type]
    m = re.search(r"(?:what day(?: of the week)?|which day) (?:is|was|will be|falls on) (.+)$", low)
    if m and parse_date(m[1], today):
        return f"{_fmt_date(parse_date(m[1], today))}."  # type: ignore[arg-type]
    m = _ASKS_DATE.match(low)
    if m and not re.fullmatch(r"(?:today|now|it|it today|today's date)", m[1]) and (day := parse_date(m[1], today)):
        return f"{_fmt_date(day)}."
    m = re.fullmatch(r"(.+?) is (?:what|which) (?:day|date)(?: of the week)?", low) or re.fullmatch(
        r"(?:the )?date (?:of |for )?(.+)", low)
    if m and (day := parse_date(m[1], today)):
        return f"{_fmt_date(day)}."
    if re.search(r"\b(date|today|day is it)\b", low):
        return f"Today is {_fmt_date(today)}."
    alone = parse_date(re.sub(r"^(?:when is|what about)\s+", "", low), today)
    if alone is not None:  # just a date: "next friday", "first monday of june"
        return f"{_fmt_date(alone)}."
    return ("I can tell the time in a place ('time in Tokyo'), convert times ('3pm London to New York'), "
            "and do date arithmetic ('90 days from 2025-03-01', 'days until December 25').")


def respond(ctx: SkillContext) -> Iterator[str]:
    yield answer(ctx)
