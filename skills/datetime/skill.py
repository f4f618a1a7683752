"""Date and time skill: current time in a place, conversions between zones, date arithmetic.

Deterministic (zoneinfo, no model). The current time comes from ``ctx.clock`` so answers can
be checked exactly; the user's zone is ``[settings] timezone`` or the system's.
"""

from __future__ import annotations

import calendar
import re
import zoneinfo
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Iterator

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


def find_zone(text: str) -> zoneinfo.ZoneInfo | None:
    """The time zone a place name, abbreviation or IANA name refers to."""
    key = re.sub(r"[?.!,]", "", text).strip().lower()
    key = re.sub(r"^(the )", "", key)
    name = ALIASES.get(key) or _zone_names().get(key) or _zone_names().get(key.replace(" ", "_"))
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _local_zone(ctx) -> tzinfo:
    wanted = str(ctx.settings.get("timezone") or "")
    if wanted:
        zone = find_zone(wanted)
        if zone is not None:
            return zone
    return datetime.now().astimezone().tzinfo or timezone.utc


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
    if t in ("christmas", "christmas day"):
        nxt = date(today.year, 12, 25)
        return nxt if nxt >= today else date(today.year + 1, 12, 25)
    if t in ("new year", "new year's day", "new years day"):
        return date(today.year + 1, 1, 1)
    return None


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


def answer(ctx) -> str:
    """The answer to a date/time question, or how to ask one."""
    text = ctx.text.strip()
    low = text.lower().rstrip("?.! ")
    local = _local_zone(ctx)
    now = ctx.clock().astimezone(local)
    today = now.date()

    m = re.search(r"(\d{1,2}(?::\d{2})?\s*(?:am|pm)?)\s+(?:in\s+)?(.+?)\s+(?:to|in|is what in|for)\s+(.+)$", low)
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
    if re.search(r"\b(what time is it|current time|time now|the time)\b", low):
        return f"It is {now.strftime('%H:%M')} on {_fmt_date(today)} ({_label(local)})."
    m = re.search(r"(?:days?|weeks?) (?:between|from) (.+?) (?:and|to|until) (.+)$", low)
    if m and parse_date(m[1], today) and parse_date(m[2], today):
        a, b = parse_date(m[1], today), parse_date(m[2], today)
        n = (b - a).days  # type: ignore[operator]
        return f"{abs(n)} days between {a.isoformat()} and {b.isoformat()}."  # type: ignore[union-attr]
    m = re.search(r"(?:how many days|days) (?:until|till|to|before) (.+)$", low)
    if m and parse_date(m[1], today):
        target = parse_date(m[1], today)
        n = (target - today).days  # type: ignore[operator]
        return f"{n} days until {_fmt_date(target)}." if n >= 0 else f"{-n} days since {_fmt_date(target)}."  # type: ignore[arg-type]
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
    if re.search(r"\b(date|today|day is it)\b", low):
        return f"Today is {_fmt_date(today)}."
    return ("I can tell the time in a place ('time in Tokyo'), convert times ('3pm London to New York'), "
            "and do date arithmetic ('90 days from 2025-03-01', 'days until December 25').")


def respond(ctx) -> Iterator[str]:
    yield answer(ctx)
