"""Calculator skill: exact arithmetic, functions and unit conversion. No eval, no model.

Numbers become exact fractions before parsing (0.1 + 0.2 is 0.3), the expression is parsed
with ``ast`` and walked over a whitelist of node types, and sizes are bounded (exponents,
factorials, digits), so no input can run code or exhaust memory.
"""

from __future__ import annotations

import ast
import math
import re
from fractions import Fraction
from typing import Iterator

MAX_CHARS = 300
MAX_NODES = 200
MAX_BITS = 20_000  # bigger results are refused rather than computed

# Units: name -> (factor to SI, dimension exponents (length, mass, time, bytes)).
_L, _M, _T, _D = (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)
_V = (3, 0, 0, 0)
_SPEED = (1, 0, -1, 0)
UNITS: dict[str, tuple[Fraction, tuple[int, ...]]] = {}


def _unit(names: str, factor: str | Fraction, dims: tuple[int, ...]) -> None:
    for name in names.split():
        UNITS[name] = (Fraction(factor), dims)


_unit("m meter meters metre metres", 1, _L)
_unit("km kilometer kilometers kilometre kilometres", 1000, _L)
_unit("cm centimeter centimeters centimetre centimetres", "0.01", _L)
_unit("mm millimeter millimeters millimetre millimetres", "0.001", _L)
_unit("mi mile miles", "1609.344", _L)
_unit("yd yard yards", "0.9144", _L)
_unit("ft foot feet", "0.3048", _L)
_unit("inch inches", "0.0254", _L)
_unit("nmi", 1852, _L)
_unit("kg kilogram kilograms kilo kilos", 1, _M)
_unit("g gram grams", "0.001", _M)
_unit("mg milligram milligrams", "0.000001", _M)
_unit("t tonne tonnes", 1000, _M)
_unit("lb lbs pound pounds", "0.45359237", _M)
_unit("oz ounce ounces", "0.028349523125", _M)
_unit("s sec secs second seconds", 1, _T)
_unit("min mins minute minutes", 60, _T)
_unit("h hr hrs hour hours", 3600, _T)
_unit("day days", 86400, _T)
_unit("week weeks", 604800, _T)
_unit("l L liter liters litre litres", "0.001", _V)
_unit("ml mL milliliter milliliters millilitre millilitres", "0.000001", _V)
_unit("gal gallon gallons", "0.003785411784", _V)
_unit("cup cups", "0.0002365882365", _V)
_unit("kmh kph", Fraction(1000, 3600), _SPEED)
_unit("mph", Fraction("1609.344") / 3600, _SPEED)
_unit("mps", 1, _SPEED)
_unit("B byte bytes", 1, _D)
_unit("KB kB kilobyte kilobytes", 1000, _D)
_unit("MB megabyte megabytes", 10**6, _D)
_unit("GB gigabyte gigabytes", 10**9, _D)
_unit("TB terabyte terabytes", 10**12, _D)
_unit("KiB", 1024, _D)
_unit("MiB", 1024**2, _D)
_unit("GiB", 1024**3, _D)
_ALIASES = {"km/h": "kmh", "m/s": "mps", "sq": ""}

_TEMPS = {"c": "C", "°c": "C", "celsius": "C", "f": "F", "°f": "F", "fahrenheit": "F", "k": "K", "kelvin": "K"}
_FUNCS = {
    "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "ln": math.log, "log": math.log10, "log2": math.log2, "exp": math.exp,
}
_EXACT_FUNCS = {"abs", "round", "floor", "ceil", "min", "max", "factorial"}
_CONSTS = {"pi": math.pi, "e": math.e, "tau": math.tau}


class CalcError(ValueError):
    """The expression cannot be computed; the message says why."""


class Quantity:
    """An exact number with a physical dimension and the unit it was written in."""

    def __init__(self, value: Fraction | float, dims: tuple[int, ...] = (0, 0, 0, 0), unit: str | None = None) -> None:
        self.value, self.dims, self.unit = value, dims, unit

    def _same(self, other: "Quantity", op: str) -> None:
        if self.dims != other.dims:
            raise CalcError(f"cannot {op} quantities of different kinds ({self.unit or 'number'} and {other.unit or 'number'})")

    def add(self, other: "Quantity", sign: int) -> "Quantity":
        self._same(other, "add")
        return Quantity(self.value + sign * other.value, self.dims, self.unit or other.unit)

    def mul(self, other: "Quantity", inverse: bool = False) -> "Quantity":
        if inverse and other.value == 0:
            raise CalcError("division by zero")
        value = self.value / other.value if inverse else self.value * other.value
        dims = tuple(a - b if inverse else a + b for a, b in zip(self.dims, other.dims))
        unit = self.unit if not other.unit else (other.unit if not self.unit and not inverse else None)
        return Quantity(value, dims, unit)


def _power(base: Fraction | float, exp: Fraction | float) -> Fraction | float:
    if isinstance(exp, Fraction) and exp.denominator == 1 and isinstance(base, Fraction):
        n = int(exp)
        bits = max(base.numerator.bit_length(), base.denominator.bit_length()) * abs(n)
        if bits > MAX_BITS:
            raise CalcError("the result would be too large")
        if base == 0 and n < 0:
            raise CalcError("division by zero")
        return base ** n
    if abs(float(exp)) > 10_000:
        raise CalcError("the exponent is too large")
    try:
        result = float(base) ** float(exp)
    except OverflowError:
        raise CalcError("the result would be too large") from None
    if isinstance(result, complex):
        raise CalcError("the result is not a real number")
    return result


class _Evaluator:
    def __init__(self, numbers: dict[str, Fraction]) -> None:
        self.numbers = numbers

    def eval(self, node: ast.AST) -> Quantity:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise CalcError(f"'{type(node).__name__}' is not allowed in a calculation")
        return method(node)

    def _Expression(self, node: ast.Expression) -> Quantity:
        return self.eval(node.body)

    def _Name(self, node: ast.Name) -> Quantity:
        if node.id in self.numbers:
            return Quantity(self.numbers[node.id])
        if node.id in _CONSTS:
            return Quantity(_CONSTS[node.id])
        if node.id in UNITS:
            factor, dims = UNITS[node.id]
            return Quantity(factor, dims, node.id)
        raise CalcError(f"unknown name '{node.id}'")

    def _UnaryOp(self, node: ast.UnaryOp) -> Quantity:
        q = self.eval(node.operand)
        if isinstance(node.op, ast.USub):
            return Quantity(-q.value, q.dims, q.unit)
        if isinstance(node.op, ast.UAdd):
            return q
        raise CalcError("operator not allowed")

    def _BinOp(self, node: ast.BinOp) -> Quantity:
        a, b = self.eval(node.left), self.eval(node.right)
        op = node.op
        if isinstance(op, (ast.Add, ast.Sub)):
            return a.add(b, 1 if isinstance(op, ast.Add) else -1)
        if isinstance(op, (ast.Mult, ast.Div)):
            return a.mul(b, inverse=isinstance(op, ast.Div))
        if isinstance(op, (ast.FloorDiv, ast.Mod)):
            a._same(b, "divide")
            if b.value == 0:
                raise CalcError("division by zero")
            value = a.value // b.value if isinstance(op, ast.FloorDiv) else a.value % b.value
            return Quantity(Fraction(value) if isinstance(value, int) else value)
        if isinstance(op, ast.Pow):
            if any(b.dims):
                raise CalcError("an exponent cannot have a unit")
            if any(a.dims) and not (isinstance(b.value, Fraction) and b.value.denominator == 1):
                raise CalcError("a quantity can only be raised to a whole power")
            n = b.value
            return Quantity(_power(a.value, n), tuple(d * int(n) for d in a.dims) if any(a.dims) else a.dims)
        raise CalcError("operator not allowed")

    def _Call(self, node: ast.Call) -> Quantity:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise CalcError("only simple function calls are allowed")
        name = node.func.id
        args = [self.eval(a) for a in node.args]
        if any(any(a.dims) for a in args):
            raise CalcError(f"{name}() takes plain numbers")
        values = [a.value for a in args]
        if name in _FUNCS and len(values) == 1:
            try:
                return Quantity(_FUNCS[name](float(values[0])))
            except (ValueError, OverflowError):
                raise CalcError(f"{name}({_fmt(values[0])}) is not defined") from None
        if name in _EXACT_FUNCS and values:
            return Quantity(_exact(name, values))
        raise CalcError(f"unknown function '{name}'")


def _exact(name: str, values: list[Fraction | float]) -> Fraction | float:
    v = values[0]
    if name == "abs":
        return abs(v)
    if name in ("min", "max"):
        return (min if name == "min" else max)(values)
    if name == "round":
        digits = int(values[1]) if len(values) > 1 else 0
        return Fraction(round(Fraction(v), digits))
    if name == "floor":
        return Fraction(math.floor(v))
    if name == "ceil":
        return Fraction(math.ceil(v))
    if not (isinstance(v, Fraction) and v.denominator == 1 and 0 <= v <= 2000):
        raise CalcError("factorial needs a whole number from 0 to 2000")
    return Fraction(math.factorial(int(v)))


_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+)")
_PREFIX = re.compile(r"^(what('s| is)|calculate|compute|evaluate|how much is|solve|convert|calc)\s+", re.I)


def _prepare(text: str) -> tuple[str, dict[str, Fraction]]:
    expr = _PREFIX.sub("", text.strip()).rstrip("?=. ")
    expr = expr.replace("×", "*").replace("÷", "/").replace("^", "**").replace("−", "-")
    while re.search(r"\d,\d{3}\b", expr):  # 1,000,000 -> 1000000
        expr = re.sub(r"(\d),(\d{3})\b", r"\1\2", expr)
    expr = re.sub(r"(\d+(?:\.\d+)?)\s*%\s*of\s+", r"(\1/100)*", expr, flags=re.I)
    expr = re.sub(r"(\d+(?:\.\d+)?)\s*%(?!\s*[\d(.])", r"(\1/100)", expr)  # "7 % 3" stays modulo
    expr = re.sub(r"(\d)\s*in\b", r"\1 inch", expr)  # "5 in" is inches here; "in" as "to" was split off
    for alias, name in _ALIASES.items():
        expr = expr.replace(alias, name) if name else expr
    numbers: dict[str, Fraction] = {}

    def number(match: re.Match) -> str:
        key = f"_n{len(numbers)}"
        numbers[key] = Fraction(match.group(1))
        return f" {key} "

    expr = _NUMBER.sub(number, expr)
    expr = re.sub(r"(_n\d+)\s+(?=[A-Za-z(])", r"\1*", expr)  # "3 km" and "2(4)" multiply
    return expr.strip(), numbers


def evaluate(text: str) -> Quantity:
    """The value of an arithmetic expression, possibly with units.

    Raises:
        CalcError: anything that is not a safe, well-formed calculation.
    """
    if len(text) > MAX_CHARS:
        raise CalcError(f"the expression is longer than {MAX_CHARS} characters")
    expr, numbers = _prepare(text)
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise CalcError("that is not a calculation I can read") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalcError("the expression is too long")
    return _Evaluator(numbers).eval(tree)


def _fmt(value: Fraction | float) -> str:
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        d = value.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:  # a terminating decimal: show it exactly
            digits = 0
            while (value * 10**digits).denominator != 1:
                digits += 1
            if digits <= 30:
                scaled = abs(value.numerator * 10**digits // value.denominator)
                whole, frac = divmod(scaled, 10**digits)
                return f"{'-' if value < 0 else ''}{whole}.{frac:0{digits}d}"
            value = float(value)
        value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise CalcError("the result is not a finite number")
    text = f"{value:.12g}"
    return text


def convert(q: Quantity, target: str) -> str:
    if target not in UNITS:
        raise CalcError(f"unknown unit '{target}'")
    factor, dims = UNITS[target]
    if q.dims != dims:
        raise CalcError(f"cannot convert {q.unit or 'a number'} to {target}")
    return f"{_fmt(q.value / factor if isinstance(q.value, Fraction) else q.value / float(factor))} {target}"


def _temperature(text: str) -> str | None:
    m = re.match(r"^\s*(?:convert\s+)?(-?\d+(?:\.\d+)?)\s*(°?[cfk]|celsius|fahrenheit|kelvin)\s+(?:to|in|into)\s+(°?[cfk]|celsius|fahrenheit|kelvin)\s*\??$",
                 text, re.I)
    if not m:
        return None
    value, src, dst = Fraction(m.group(1)), _TEMPS[m.group(2).lower()], _TEMPS[m.group(3).lower()]
    kelvin = {"C": value + Fraction("273.15"), "F": (value - 32) * Fraction(5, 9) + Fraction("273.15"), "K": value}[src]
    out = {"C": kelvin - Fraction("273.15"), "F": (kelvin - Fraction("273.15")) * Fraction(9, 5) + 32, "K": kelvin}[dst]
    return f"{_fmt(out)} °{dst}" if dst != "K" else f"{_fmt(out)} K"


def calculate(text: str) -> str:
    """The answer to a calculation or conversion, as text."""
    temp = _temperature(text)
    if temp is not None:
        return temp
    m = re.match(r"^(.*\S)\s+(?:to|in|into|as)\s+([A-Za-z/]+)\s*\??$", text.strip())
    if m and _ALIASES.get(m.group(2), m.group(2)) in UNITS:
        return convert(evaluate(m.group(1)), _ALIASES.get(m.group(2), m.group(2)))
    q = evaluate(text)
    if any(q.dims):
        return convert(q, q.unit) if q.unit and UNITS[q.unit][1] == q.dims else f"{_fmt(q.value)} (SI units)"
    return _fmt(q.value)


def respond(ctx) -> Iterator[str]:
    """Answer a calculation; a clear message when it is not one."""
    try:
        yield calculate(ctx.text)
    except CalcError as exc:
        yield f"I can't calculate that: {exc}."
