"""Units through pint, with exact (Fraction) magnitudes.

Only single names ever reach pint (``get_name`` and ``Unit`` on a name that matched
:data:`_NAME`); compound units are built here by multiplying resolved units, so no user text
goes through pint's expression parser.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

_NAME = re.compile(r"^[A-Za-z°µΩ][A-Za-z_°µ]{0,31}$")
# Everyday spellings that pint reads as something else, or not at all.
ALIASES = {
    "C": "degree_Celsius", "F": "degree_Fahrenheit", "c": "degree_Celsius", "°c": "degree_Celsius", "degc": "degree_Celsius", "celcius": "degree_Celsius",
    "centigrade": "degree_Celsius", "f": "degree_Fahrenheit", "°f": "degree_Fahrenheit",
    "degf": "degree_Fahrenheit", "farenheit": "degree_Fahrenheit", "fahrenheight": "degree_Fahrenheit",
    "kb": "kilobyte", "mb": "megabyte", "gb": "gigabyte", "tb": "terabyte", "pb": "petabyte",
    "kilo": "kilogram", "kilos": "kilogram", "kmh": "kilometer_per_hour", "kmph": "kilometer_per_hour",
    "mps": "meter_per_second", "gig": "gigabyte", "gigs": "gigabyte", "meg": "megabyte", "megs": "megabyte",
    "btu": "british_thermal_unit", "calorie": "kilocalorie", "calories": "kilocalorie",
}
# English words that pint happens to know as units ("a" is a year, "at" an atmosphere).
NOT_UNITS = frozenset({"a", "an", "at", "as", "is", "it", "or", "of", "on", "to", "per", "and", "by", "pi", "e",
                       "percent", "x", "the"})
TEMPERATURE_LABELS = {"degree_Celsius": "°C", "degree_Fahrenheit": "°F", "kelvin": "K"}


class UnitError(ValueError):
    """A unit name that is not known, or an operation units do not allow."""


@lru_cache(maxsize=1)
def registry() -> Any:
    """pint's registry with exact magnitudes, built once on first use (about half a second)."""
    import pint

    return pint.UnitRegistry(non_int_type=Fraction, cache_folder=None)


def is_unit(word: str) -> bool:
    """Whether ``word`` names a unit (plurals, prefixes and abbreviations included)."""
    return canonical(word) is not None


@lru_cache(maxsize=4096)
def canonical(word: str) -> str | None:
    """pint's name for the unit ``word``, or None."""
    if not _NAME.match(word) or word.lower() in NOT_UNITS:
        return None
    ureg = registry()
    for candidate in (ALIASES.get(word), word, ALIASES.get(word.lower()), word.lower()):
        if not candidate:
            continue
        try:
            return ureg.get_name(candidate)
        except Exception:  # noqa: BLE001 - pint raises UndefinedUnitError (and others for odd names)
            continue
    return None


def unit(word: str) -> Any:
    """The pint unit ``word`` names.

    Raises:
        UnitError: ``word`` is not a unit.
    """
    name = canonical(word)
    if name is None:
        raise UnitError(f"unknown unit '{word}'")
    return registry().Unit(name)


def label(word: str) -> str:
    """How a unit the user wrote is shown back: their spelling, temperatures as °C / °F / K."""
    name = canonical(word)
    return TEMPERATURE_LABELS.get(name, word) if name else word


def is_offset(u: Any) -> bool:
    """Whether ``u`` is a temperature scale with an offset (°C, °F), which cannot be multiplied."""
    return str(u) in ("degree_Celsius", "degree_Fahrenheit")


def quantity(value: Fraction, u: Any) -> Any:
    """``value`` of unit ``u`` as a pint quantity."""
    return registry().Quantity(Fraction(value), u)


def describe(u: Any) -> str:
    """A short name for a unit pint built (``km/h``, ``m²``); used when the user named none."""
    parts = []
    for name, power in sorted(u._units.items(), key=lambda kv: -float(kv[1])):
        symbol = registry().get_symbol(name)
        power = Fraction(power)
        sup = "" if power == 1 else (str(power).replace("-", "⁻").translate(_SUPERSCRIPT))
        parts.append(f"{symbol}{sup}")
    return "·".join(parts) or ""


_SUPERSCRIPT = str.maketrans("0123456789/", "⁰¹²³⁴⁵⁶⁷⁸⁹ᐟ")
