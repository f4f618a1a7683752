"""Showing an expression back as it was understood, and results as exact as they are."""

from __future__ import annotations

from fractions import Fraction

from . import units as U
from .evaluator import Bindings, CalcError, Measure, Number

SIGNIFICANT = 12
MAX_EXACT_DECIMALS = 30
MAX_SHOWN_DENOMINATOR = 1000
_NAMES = {"prod": "product"}


def decimal(value: Number) -> tuple[str, bool]:
    """``value`` as a decimal and whether that is exact (False: rounded to 12 significant digits)."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator), True
        d = value.denominator
        for p in (2, 5):
            while d % p == 0:
                d //= p
        if d == 1:  # a terminating decimal: show it exactly when it is short enough
            digits = 0
            while (value * 10**digits).denominator != 1:
                digits += 1
            if digits <= MAX_EXACT_DECIMALS:
                scaled = abs(value.numerator) * 10**digits // value.denominator
                whole, frac = divmod(scaled, 10**digits)
                return f"{'-' if value < 0 else ''}{whole}.{frac:0{digits}d}", True
        try:
            value = float(value)
        except OverflowError:
            raise CalcError("the result is too large to show") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise CalcError("the result is not a finite number")
    text = f"{value:.{SIGNIFICANT}g}"
    if "e" not in text and value == int(value) and abs(value) < 1e15:
        text = str(int(value))
    try:
        exact = Fraction(text) == Fraction(value)
    except (ValueError, OverflowError):
        exact = False
    return text, exact


def money(value: Number, symbol: str) -> tuple[str, bool]:
    """``$1,234.50``: cents when there are any, rounded (and said so) past them."""
    if value < 0:
        text, exact = money(-value, symbol)
        return "-" + text, exact
    exact_value = Fraction(value) if isinstance(value, Fraction) else Fraction(str(value))
    cents = round(exact_value * 100)
    whole, frac = divmod(cents, 100)
    text = f"{symbol}{whole:,}" + (f".{frac:02d}" if frac else "")
    return text, Fraction(cents, 100) == exact_value


def unit_for(words: list[str]) -> object:
    """A pint unit from resolved unit words ("mile", "/", "hour"), without pint's parser."""
    result = None
    sign = 1
    last = None
    for t in words:
        if t == "/":
            sign = -1
            continue
        if t == "*":
            sign = 1
            continue
        if t.startswith("**"):
            if last is None:
                raise CalcError("a power needs a unit before it", unreadable=True)
            result = result * last ** (int(t[2:]) - 1) if sign > 0 else result / last ** (int(t[2:]) - 1)
            continue
        if t in ("(", ")"):
            continue
        last = U.unit(t)
        result = last if result is None else (result * last if sign > 0 else result / last)
    if result is None:
        raise CalcError("no unit to convert to", unreadable=True)
    return result


def target_label(words: str, tokens: list[str]) -> str:
    unit_words = [t for t in tokens if t not in ("/", "*", "(", ")") and not t.startswith("**")]
    if len(unit_words) == 1 and len(tokens) == 1:
        return U.label(tokens[0]) if U.canonical(tokens[0]) in U.TEMPERATURE_LABELS else words.strip()
    return words.strip()


def quantity(m: Measure, target: str | None, target_tokens: list[str] | None) -> tuple[str, bool]:
    """A measure in the target unit (or as written), named: ``3000 MB``."""
    q = m.q
    label = m.label
    if target is not None and target_tokens is not None:
        try:
            q = q.to(unit_for(target_tokens))
        except CalcError:
            raise
        except Exception:  # noqa: BLE001 - pint raises many types for an impossible conversion
            raise CalcError(f"cannot convert {m.label or U.describe(q.units)} to {target.strip()}") from None
        label = target_label(target, target_tokens)
    if label is None:
        label = U.describe(q.units)
    text, exact = decimal(q.magnitude)
    return f"{text} {label}".strip(), exact


def expression(tokens: list[str], b: Bindings, money_keys: set[str], symbol: str | None) -> str:
    """The expression as read, for the reply: ``6 × 7``, ``15% × 80``, ``100 °F``."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in ("pct", "factorial", "topct") and i + 1 < len(tokens) and tokens[i + 1] == "(":
            close = _matching(tokens, i + 1)
            inner = expression(tokens[i + 2:close], b, money_keys, symbol)
            simple = close == i + 3
            if t == "pct":
                out.append(f"{inner}%" if simple else f"({inner})%")
            elif t == "factorial":
                out.append(f"{inner}!" if simple else f"({inner})!")
            else:
                out.append(inner)
            i = close + 1
            continue
        if t == "**" and i and tokens[i - 1].startswith("_u") and i + 1 < len(tokens) and \
                b.numbers.get(tokens[i + 1]) in (2, 3):
            out.append("²" if b.numbers[tokens[i + 1]] == 2 else "³")  # "square feet" reads as ft²
            i += 2
            continue
        out.append(_token(t, tokens, i, b, money_keys, symbol))
        i += 1
    return "".join(out).strip().replace("  ", " ")


def _matching(tokens: list[str], open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[j], 0)
        if depth == 0:
            return j
    return len(tokens) - 1


def _token(t: str, tokens: list[str], i: int, b: Bindings, money_keys: set[str], symbol: str | None) -> str:
    prev = tokens[i - 1] if i else ""
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if t.startswith("_n"):
        text, _ = decimal(b.numbers[t])
        return f"{symbol}{text}" if symbol and t in money_keys else text
    if t.startswith("_u"):
        return U.label(b.units[t])
    if t == "*":
        return " " if nxt.startswith("_u") and not prev.startswith("_u") else " × "
    if t == "/":
        if prev.startswith("_u") and nxt.startswith("_u"):
            return "/"
        plain = prev.startswith("_n") and nxt.startswith("_n") and prev not in money_keys
        whole = plain and b.numbers[prev].denominator == 1 and b.numbers[nxt].denominator == 1
        whole = whole and abs(b.numbers[prev]) < b.numbers[nxt]  # a proper fraction reads as 2/3
        return "/" if whole and not (i >= 2 and tokens[i - 2] in ("/", "**")) else " ÷ "
    if t == "-":
        return " - " if prev and (prev.startswith(("_n", "_u")) or prev == ")") else "-"
    if t == "+":
        return " + "
    if t == "**":
        return "^"
    if t == "%":
        return " mod "
    if t == "//":
        return " // "
    if t == ",":
        return ", "
    return _NAMES.get(t, t)
