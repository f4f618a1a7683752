"""Read, evaluate, show: the calculator's one code path (the datetime skill uses it too)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from fractions import Fraction

from . import show
from .evaluator import CalcError, Measure, evaluate
from .phrasing import Reading, clean, read, unit_phrase

_CODE_NODES = (ast.Attribute, ast.Subscript, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
               ast.GeneratorExp, ast.List, ast.Dict, ast.Set, ast.Starred, ast.NamedExpr, ast.Await,
               ast.Yield, ast.YieldFrom, ast.JoinedStr, ast.IfExp, ast.Compare, ast.BoolOp)


@dataclass(frozen=True)
class Answer:
    """A calculation as understood and its result."""

    expression: str
    result: str  # the value (with its unit), as ``calculate`` returns it
    exact: bool
    fraction: str | None = None  # "100/3" when the exact value is a simple fraction

    def text(self) -> str:
        """``6 × 7 = 42``; ``100 ÷ 3 = 100/3 ≈ 33.3333333333``; ``5 km ≈ 3.10685596119 miles``."""
        if self.fraction and self.fraction != self.expression:
            return f"{self.expression} = {self.fraction} ≈ {self.result}"
        return f"{self.expression} {'=' if self.exact else '≈'} {self.result}"


def refuse_code(text: str) -> None:
    """Text that parses as Python beyond arithmetic (attributes, strings, comprehensions) is refused.

    Raises:
        CalcError: naming the construct (not ``unreadable``: no model is asked to rephrase code).
    """
    try:
        tree = ast.parse(clean(text), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return
    for node in ast.walk(tree):
        if isinstance(node, _CODE_NODES) or (isinstance(node, ast.Constant) and not isinstance(node.value, (int, float))):
            raise CalcError(f"'{type(node).__name__}' is not allowed in a calculation")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise CalcError(f"'{node.id}' is not allowed in a calculation")


def answer(text: str) -> Answer:
    """The calculation ``text`` asks for, read, computed and shown.

    Raises:
        CalcError: not a calculation (``unreadable``), or one that cannot be computed.
    """
    refuse_code(text)
    reading = read(text)
    return answer_reading(reading)


def answer_reading(reading: Reading) -> Answer:
    value = evaluate(reading.expr, reading.bindings)
    expr = show.expression(reading.tokens, reading.bindings, reading.money_keys, reading.money)
    if reading.target is not None:
        target_tokens = unit_phrase(reading.target)
        if not isinstance(value, Measure):
            raise CalcError(f"say what to convert to {reading.target.strip()} from (a unit after the number)",
                            unreadable=True)
        result, exact = show.quantity(value, reading.target, target_tokens)
        return Answer(expr, result, exact)
    if isinstance(value, Measure):
        result, exact = show.quantity(value, None, None)
        return Answer(expr, result, exact)
    if reading.percent:
        text, exact = show.decimal(value)
        return Answer(expr, f"{text}%", exact)
    if reading.money:
        text, exact = show.money(value, reading.money)
        return Answer(expr, text, exact)
    text, exact = show.decimal(value)
    fraction = None
    if not exact and isinstance(value, Fraction) and value.denominator <= show.MAX_SHOWN_DENOMINATOR:
        fraction = f"{value.numerator}/{value.denominator}"
    return Answer(expr, text, exact, fraction)


def calculate(text: str) -> str:
    """Just the result of ``text`` ("42", "3000 MB").

    Raises:
        CalcError: as :func:`answer`.
    """
    return answer(text).result


def conversion(text: str) -> Answer | None:
    """The answer when ``text`` is a unit question ("how many seconds are in a day"), else None."""
    try:
        reading = read(text)
        if reading.target is None:
            return None
        return answer_reading(reading)
    except CalcError:
        return None
