"""The calculator's expression language, evaluated exactly over an ``ast`` whitelist.

Numbers arrive as placeholders (``_n0``) bound to exact Fractions and units as placeholders
(``_u0``) bound to unit words, so the parsed tree holds only names, calls and operators.
Every result is size-checked, so no input can run code or exhaust memory.
"""

from __future__ import annotations

import ast
import math
import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from . import units as U

MAX_NODES = 200
MAX_BITS = 13_000  # about 3,900 digits: bigger results are refused (and str() could not print them)
MAX_UNIT_POWER = 12

Number = Fraction | float
_FLOAT_FUNCS: dict[str, Callable[[float], float]] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "ln": math.log, "log": math.log10, "log10": math.log10, "log2": math.log2, "exp": math.exp,
}
_LIST_FUNCS = {"sum", "mean", "median", "prod", "min", "max"}
FUNCTIONS = frozenset(_FLOAT_FUNCS) | _LIST_FUNCS | {"abs", "round", "floor", "ceil", "factorial", "sqrt", "cbrt",
                                                     "root", "pct", "topct"}
CONSTANTS: dict[str, float] = {"pi": math.pi, "tau": math.tau, "e": math.e}


class CalcError(ValueError):
    """The input cannot be computed; the message says why.

    Attributes:
        unreadable: the words could not be read as a calculation at all (another reader, or
            another skill, may still make sense of them); False when the calculation was read
            and is refused (too large, division by zero, code).
    """

    def __init__(self, message: str, unreadable: bool = False) -> None:
        super().__init__(message)
        self.unreadable = unreadable


@dataclass
class Measure:
    """A pint quantity and the unit label the user wrote for it (None: describe pint's)."""

    q: Any
    label: str | None = None
    bare: bool = False  # a unit name on its own ("km" in "km/h"), not yet a quantity


@dataclass
class Bindings:
    """What the placeholders in an expression stand for."""

    numbers: dict[str, Fraction] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


def check_size(value: Number) -> Number:
    if isinstance(value, Fraction) and max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
        raise CalcError("the result would be too large")
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        raise CalcError("the result is too large" if math.isinf(value) else "the result is not a real number")
    return value


def power(base: Number, exp: Number) -> Number:
    """``base ** exp``, exact for whole exponents, refused before it gets too large."""
    if isinstance(exp, Fraction) and exp.denominator == 1 and isinstance(base, Fraction):
        n = int(exp)
        if base == 0 and n < 0:
            raise CalcError("division by zero")
        if abs(base) != 1:
            bits = max(base.numerator.bit_length(), base.denominator.bit_length()) - 1
            if bits * abs(n) > MAX_BITS or (bits == 0 and abs(n) > MAX_BITS):
                raise CalcError("the result would be too large")
        return base ** n
    if isinstance(exp, Fraction) and isinstance(base, Fraction) and base >= 0:
        exact = _exact_root(base, exp.denominator)
        if exact is not None:
            return power(exact, Fraction(exp.numerator))
    if abs(float(exp)) > 10_000:
        raise CalcError("the exponent is too large")
    try:
        result = float(base) ** float(exp)
    except OverflowError:
        raise CalcError("the result would be too large") from None
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    if isinstance(result, complex):
        raise CalcError("the result is not a real number")
    return check_size(result)


def _int_root(n: int, k: int) -> int | None:
    if n < 0:
        return None
    r = round(n ** (1.0 / k)) if n.bit_length() < 1000 else None
    if r is None:
        return None
    for c in (r - 1, r, r + 1):
        if c >= 0 and c ** k == n:
            return c
    return None


def _exact_root(x: Fraction, k: int) -> Fraction | None:
    if k == 1:
        return x
    if k > 64:
        return None
    num, den = _int_root(x.numerator, k), _int_root(x.denominator, k)
    return Fraction(num, den) if num is not None and den is not None else None


def root(x: Number, k: int) -> Number:
    """The ``k``-th root; exact when ``x`` is a perfect power, real for odd roots of negatives."""
    if k < 1 or k > 1000:
        raise CalcError("that root is not defined")
    if isinstance(x, Fraction):
        if x < 0 and k % 2 == 1:
            r = root(-x, k)
            return -r
        if x < 0:
            raise CalcError("the result is not a real number")
        exact = _exact_root(x, k)
        if exact is not None:
            return exact
    if float(x) < 0:
        raise CalcError("the result is not a real number")
    return check_size(float(x) ** (1.0 / k))


def _whole(v: Number, what: str, low: int, high: int) -> int:
    if not (isinstance(v, Fraction) and v.denominator == 1 and low <= v <= high):
        raise CalcError(f"{what} needs a whole number from {low} to {high}")
    return int(v)


class Evaluator:
    """Walks a parsed expression over a whitelist of node types."""

    def __init__(self, bindings: Bindings) -> None:
        self.b = bindings

    def eval(self, node: ast.AST) -> Number | Measure:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise CalcError(f"'{type(node).__name__}' is not allowed in a calculation")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Number | Measure:
        return self.eval(node.body)

    def _Name(self, node: ast.Name) -> Number | Measure:
        if node.id in self.b.numbers:
            return self.b.numbers[node.id]
        if node.id in self.b.units:
            word = self.b.units[node.id]
            return Measure(U.quantity(Fraction(1), U.unit(word)), U.label(word), bare=True)
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalcError(f"unknown name '{node.id}'", unreadable=True)

    def _UnaryOp(self, node: ast.UnaryOp) -> Number | Measure:
        v = self.eval(node.operand)
        if isinstance(node.op, ast.UAdd):
            return v
        if not isinstance(node.op, ast.USub):
            raise CalcError("operator not allowed")
        if isinstance(v, Measure):
            return Measure(-_solid(v).q, v.label)
        return -v

    def _BinOp(self, node: ast.BinOp) -> Number | Measure:
        a = self.eval(node.left)
        if isinstance(node.op, (ast.Add, ast.Sub)) and _is_pct(node.right) and not isinstance(a, Measure):
            p = self.eval(node.right)  # "250 - 20%": a percentage of the left side
            if isinstance(p, Measure):
                raise CalcError("a percentage cannot have a unit")
            return check_size(a * (1 + p) if isinstance(node.op, ast.Add) else a * (1 - p))
        b = self.eval(node.right)
        if isinstance(a, Measure) or isinstance(b, Measure):
            return _measure_op(node.op, a, b)
        return check_size(_plain_op(node.op, a, b))

    def _Call(self, node: ast.Call) -> Number | Measure:
        if not isinstance(node.func, ast.Name) or node.keywords or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "?"
            raise CalcError(f"unknown function '{name}'", unreadable=isinstance(node.func, ast.Name))
        name = node.func.id
        args = [self.eval(a) for a in node.args]
        if not args:
            raise CalcError(f"{name}() needs a number")
        if name in ("sum", "min", "max") and all(isinstance(a, Measure) for a in args):
            return _measure_list(name, args)
        if any(isinstance(a, Measure) for a in args):
            raise CalcError(f"{name}() takes plain numbers")
        return check_size(call(name, [a for a in args if not isinstance(a, Measure)]))


def _is_pct(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "pct"


def _plain_op(op: ast.operator, a: Number, b: Number) -> Number:
    if isinstance(op, ast.Add):
        return a + b
    if isinstance(op, ast.Sub):
        return a - b
    if isinstance(op, ast.Mult):
        return a * b
    if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)) and b == 0:
        raise CalcError("division by zero")
    if isinstance(op, ast.Div):
        return a / b
    if isinstance(op, ast.FloorDiv):
        return Fraction(a // b) if isinstance(a // b, int) else a // b
    if isinstance(op, ast.Mod):
        return a % b
    if isinstance(op, ast.Pow):
        return power(a, b)
    raise CalcError("operator not allowed")


def _solid(m: Measure) -> Measure:
    return Measure(m.q, m.label) if m.bare else m


def _measure_op(op: ast.operator, a: Number | Measure, b: Number | Measure) -> Measure | Number:
    try:
        if isinstance(op, ast.Mult) and isinstance(b, Measure) and b.bare and not isinstance(a, Measure):
            return Measure(U.quantity(Fraction(a), b.q.units), b.label)  # "100 °F": offsets allowed here
        if isinstance(op, ast.Pow):
            if isinstance(b, Measure) or not isinstance(a, Measure):
                raise CalcError("an exponent cannot have a unit")
            n = _whole(b, "a unit's power", -MAX_UNIT_POWER, MAX_UNIT_POWER)
            return Measure(a.q ** n, None, bare=a.bare)
        qa = a.q if isinstance(a, Measure) else a
        qb = b.q if isinstance(b, Measure) else b
        if isinstance(op, (ast.Add, ast.Sub)):
            if not (isinstance(a, Measure) and isinstance(b, Measure)):
                raise CalcError("cannot add a plain number to a quantity with a unit (different kinds)")
            value = qa + qb if isinstance(op, ast.Add) else qa - qb
            return Measure(value, a.label)
        if isinstance(op, (ast.Mult, ast.Div)):
            if isinstance(op, ast.Div) and (qb == 0 if not isinstance(b, Measure) else b.q.magnitude == 0):
                raise CalcError("division by zero")
            value = qa * qb if isinstance(op, ast.Mult) else qa / qb
            keep = a.label if isinstance(a, Measure) and not isinstance(b, Measure) else (
                b.label if isinstance(b, Measure) and not isinstance(a, Measure) and isinstance(op, ast.Mult) else None)
            bare = isinstance(a, Measure) and a.bare and isinstance(b, Measure) and b.bare
            return _simplify(Measure(value, keep, bare=bare))
    except CalcError:
        raise
    except Exception as exc:  # noqa: BLE001 - pint raises many types (DimensionalityError, OffsetUnitCalculusError, ...)
        raise CalcError(_pint_message(exc)) from None
    raise CalcError("operator not allowed with units")


def _simplify(m: Measure) -> Measure | Number:
    if not m.bare and m.q.dimensionless and not m.q.unitless:
        reduced = m.q.to_reduced_units()
        if reduced.unitless:
            return check_size(Fraction(reduced.magnitude))
    if not m.bare and m.q.unitless:
        return check_size(Fraction(m.q.magnitude))
    return m


def _measure_list(name: str, args: list[Any]) -> Measure:
    try:
        if name == "sum":
            total = args[0].q
            for a in args[1:]:
                total = total + a.q
            return Measure(total, args[0].label)
        pick = (min if name == "min" else max)(args, key=lambda a: a.q.to(args[0].q.units).magnitude)
        return Measure(pick.q, pick.label)
    except Exception as exc:  # noqa: BLE001 - pint raises many types; each becomes a CalcError
        raise CalcError(_pint_message(exc)) from None


def _pint_message(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "OffsetUnitCalculusError":
        return "temperatures in °C or °F can be converted but not multiplied or added"
    if name == "DimensionalityError":
        return "cannot combine quantities of different kinds"
    return f"that does not work with these units ({name})"


def call(name: str, values: list[Number]) -> Number:
    """A whitelisted function on plain numbers."""
    v = values[0]
    if name in _FLOAT_FUNCS:
        try:
            return _FLOAT_FUNCS[name](float(v))
        except (ValueError, OverflowError):
            raise CalcError(f"{name} of that number is not defined") from None
    if name == "sum":
        return sum(values, Fraction(0))
    if name == "prod":
        out: Number = Fraction(1)
        for x in values:
            out = check_size(out * x)
        return out
    if name == "mean":
        return sum(values, Fraction(0)) / len(values)
    if name == "median":
        return statistics.median(values)
    if name in ("min", "max"):
        return (min if name == "min" else max)(values)
    if len(values) > (2 if name in ("round", "root") else 1):
        raise CalcError(f"{name}() takes one number", unreadable=True)
    return _one(name, v, values)


def _one(name: str, v: Number, values: list[Number]) -> Number:
    if name == "pct":
        return v / 100
    if name == "topct":
        return v * 100
    if name == "abs":
        return abs(v)
    if name == "round":
        digits = _whole(values[1], "round()", -100, 100) if len(values) > 1 else 0
        return Fraction(round(Fraction(v), digits))
    if name in ("floor", "ceil"):
        return Fraction((math.floor if name == "floor" else math.ceil)(v))
    if name == "sqrt":
        return root(v, 2)
    if name == "cbrt":
        return root(v, 3)
    if name == "root":
        return root(v, _whole(values[1], "root()", 1, 1000) if len(values) > 1 else 2)
    n = _whole(v, "factorial", 0, 2000)
    return Fraction(math.factorial(n))


def evaluate(expr: str, bindings: Bindings) -> Number | Measure:
    """The value of ``expr`` (placeholders bound by ``bindings``).

    Raises:
        CalcError: anything that is not a safe, well-formed calculation.
    """
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise CalcError("that is not a calculation I can read", unreadable=True) from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError("the expression is too long")
    try:
        return Evaluator(bindings).eval(tree)
    except RecursionError:
        raise CalcError("the expression is nested too deeply") from None
    except U.UnitError as exc:
        raise CalcError(str(exc), unreadable=True) from None
    except (ZeroDivisionError, OverflowError) as exc:
        raise CalcError("division by zero" if isinstance(exc, ZeroDivisionError) else "the result would be too large") from None
