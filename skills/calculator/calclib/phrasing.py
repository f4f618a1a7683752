"""Everyday wording -> the calculator's expression language.

``read("what is 20% off $250")`` gives ``250 - pct(20)`` with its numbers bound, ready for
:func:`evaluator.evaluate`. The rules are grammar (operator words, percentages, lists, unit
questions), applied in order; numbers written in words go through text2num first. Nothing
here computes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from . import units as U
from .evaluator import CONSTANTS, FUNCTIONS, Bindings, CalcError

MAX_CHARS = 300
N = r"(?:-\s?)?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?¤?"  # a number once words and separators are gone
_I = re.I

_LEAD = re.compile(
    r"^(?:(?:hey|hi|ok|okay|so|um|quick question|question|please|pls|and)\b[,:]?\s*"
    r"|(?:can|could|would|will) you (?:please )?(?:tell me |help me |quickly )?(?:work out |figure out |calculate |compute |do )?"
    r"|(?:please )?(?:tell me|work out|figure out|let me know|i need to know|i want to know|do you know|i need)\s+"
    r"|what(?:'s| is| are| was| would be| will be| does| do|s)\b\s*|how (?:much|many|big|long|far|heavy) (?:is|are|does|do|would be|will be|'s)\b\s*"
    r"|(?:calculate|compute|evaluate|solve|convert|calc|find|give me|show me|determine|work out)\b:?\s*"
    r"|the\s+(?=(?:sum|product|average|mean|median|total|square|cube|difference|result|value|remainder|\d)))",
    _I)
_TRAIL = re.compile(r"(?:\s*[?.=]+|(?<![\d)])!+|\s+|\s+(?:please|for me|exactly|equals?|in total|altogether|then|again|roughly|approximately|about|or so)\b)+$", _I)
_CURRENCY = "$€£¥₹"
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth".split()
_FRACTIONS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4,
              "fourths": 4, "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6, "eighth": 8, "eighths": 8,
              "tenth": 10, "tenths": 10}
_CONNECT = r"(?:to|in|into|as|in terms of|(?:is|are|equals?|makes?) how many|=\s*how many)"


@dataclass
class Reading:
    """A request read as an expression (in the calculator's language) and, maybe, a target unit."""

    expr: str
    bindings: Bindings = field(default_factory=Bindings)
    target: str | None = None  # the unit words the answer should be in
    money: str | None = None  # the currency symbol the user wrote
    percent: bool = False  # the answer is a share, shown in percent
    tokens: list[str] = field(default_factory=list)  # ``expr`` as tokens, for showing it back
    money_keys: set[str] = field(default_factory=set)  # the numbers written with a currency


def clean(text: str) -> str:
    """Unicode operators, apostrophes and spacing made plain; lead-in and trailing words dropped."""
    if len(text) > MAX_CHARS:
        raise CalcError(f"the request is too long (over {MAX_CHARS} characters)")
    s = text.strip().replace("’", "'").replace("‘", "'")
    for a, b in (("×", "*"), ("·", "*"), ("÷", "/"), ("−", "-"), ("–", "-"), ("^", "**"), ("²", "**2"),
                 ("³", "**3"), ("√", " sqrt "), ("∛", " cbrt "), ("π", " pi ")):
        s = s.replace(a, b)
    s = re.sub(r"\s+", " ", s)
    previous = None
    while previous != s:
        previous = s
        s = _LEAD.sub("", s).strip()
        s = _TRAIL.sub("", s).strip()
    return s


def _numbers_in_words(s: str) -> str:
    """Spelled-out numbers to digits (text2num), keeping ordinal words ("second", "third")."""
    if not re.search(r"[a-z]", s, _I):
        return s
    from text_to_num import alpha2digit

    keep = {}

    def protect(m: re.Match) -> str:
        keep[f"qq{len(keep)}qq"] = m.group(0)
        return f"qq{len(keep) - 1}qq"

    ordinals = "|".join(_ORDINALS)
    s = re.sub(rf"\b(?:{ordinals})s?\b|\bhalf\b|\bquarters?\b", protect, s, flags=_I)
    s = alpha2digit(s, "en", threshold=0)
    for key, word in keep.items():
        s = s.replace(key, word)
    s = re.sub(r"(\d)\s+and\s+(?:a\s+)?half\b", r"\1.5", s, flags=_I)
    s = re.sub(r"\b(?:a|one)\s+dozen\b", "12", s, flags=_I)
    s = re.sub(rf"({N})\s+dozen\b", r"\1*12", s, flags=_I)
    return re.sub(r"\ba\s+(?=\d)", "", s, flags=_I)  # "a 100" (a hundred)


def _money(s: str) -> tuple[str, str | None]:
    sym = next((c for c in s if c in _CURRENCY), None)
    s = re.sub(rf"[{_CURRENCY}]\s?(\d[\d,]*(?:\.\d+)?)", r"\1¤", s)
    s = re.sub(rf"[{_CURRENCY}]", "", s)
    words = re.search(r"(\d)\s*(?:dollars?|bucks|usd|euros?|eur)\b", s, _I)
    if words and sym is None:
        sym = "€" if re.search(r"euros?|eur\b", s, _I) else "$"
    s = re.sub(r"(\d)\s*(?:dollars?|bucks|usd|euros?|eur)\b", r"\1¤", s, flags=_I)
    while re.search(r"\d,\d{3}(?!\d)", s):  # 1,000,000 -> 1000000
        s = re.sub(r"(\d),(\d{3})(?!\d)", r"\1\2", s)
    return s, sym if "¤" in s else None


def _split_target(s: str) -> tuple[str, str | None]:
    """``("2 pounds", "ounces")`` for "how many ounces in 2 pounds" and "2 pounds to ounces"."""
    m = re.match(r"^how many\s+(?P<unit>[^\d]+?)\s+(?:(?:are|is)\s+(?:there\s+)?)?(?:in|is|are|make|makes|equals?|to)"
                 r"\s+(?P<q>.+)$", s, _I)
    if m and unit_phrase(m["unit"]) is not None:
        return m["q"], m["unit"]
    for m in reversed(list(re.finditer(rf"(?<=\s){_CONNECT}(?=\s)", s, _I))):
        unit_words = s[m.end():].strip()
        if not re.search(r"\d", unit_words) and unit_phrase(unit_words) is not None:
            return s[:m.start()].strip(), unit_words
    return s, None


_PCT = r"pct\((\d+(?:\.\d+)?¤?)\)"
_REWRITES: list[tuple[str, str]] = [
    # shares: "what percent is 30 of 120", "30 is what percentage of 120", "30 out of 120 as a percentage"
    (rf"^(?:what|which) (?:percent(?:age)?|%) (?:is|are) ({N}) (?:of|out of) ({N})$", r"topct(\1 / \2)"),
    (rf"^(?:what|which) (?:percent(?:age)?|%) of ({N}) (?:is|are) ({N})$", r"topct(\2 / \1)"),
    (rf"^({N}) (?:is|are) what (?:percent(?:age)?|%) of ({N})$", r"topct(\1 / \2)"),
    (rf"^({N}) (?:out of|of|from) ({N}) (?:as|in) (?:a )?(?:percent(?:age)?|%)$", r"topct(\1 / \2)"),
    (rf"^({N}) (?:as|in) (?:an? )?(?:percent(?:age)?|%) of ({N})$", r"topct(\1 / \2)"),
    (rf"^(?:the )?percent(?:age)? (?:change|increase|decrease|difference) from ({N}) to ({N})$", r"topct((\2 - \1) / \1)"),
    (rf"({N})\s*(?:%|percent\b|per cent\b|pct\b)(?!\s*[\d(.])", r"pct(\1)"),
    (rf"{_PCT} (?:off|discount (?:on|off)|off of|discount from) ({N})", r"\2 - pct(\1)"),
    (rf"{_PCT} (?:more than|above|on top of|increase on|markup on|over) ({N})", r"\2 + pct(\1)"),
    (rf"{_PCT} (?:less than|below|under|fewer than) ({N})", r"\2 - pct(\1)"),
    (rf"(?:increase|raise|grow|mark up|inflate)d? ({N}) by {_PCT}", r"\1 + pct(\2)"),
    (rf"(?:decrease|reduce|lower|cut|discount|mark down|drop)(?:ed|d)? ({N}) by {_PCT}", r"\1 - pct(\2)"),
    (rf"({N}) (?:with|after|minus|less|-)(?: an?)? {_PCT}(?: (?:discount|off|reduction|cut|decrease))?", r"\1 - pct(\2)"),
    (rf"({N}) (?:plus|with|after|including|incl|and|\+)(?: an?)? {_PCT}(?: \w+)?", r"\1 + pct(\2)"),
    (rf"(?:an? )?{_PCT} (?:tip|tax|vat|commission|discount|interest|fee|service charge|gratuity) (?:on|of|for|from) ({N})", r"pct(\1) * \2"),
    # lists
    (rf"\b(?:the )?(?:average|mean|avg|arithmetic mean) (?:of )?(?:the numbers )?({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+){N})+)",
     r"mean(\1)"),
    (rf"\b(?:the )?(?:sum|total) of (?:the numbers )?({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+|\s*\+\s*){N})+)", r"sum(\1)"),
    (rf"\badd(?: up| together)? ({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*){N})+)(?: together)?$", r"sum(\1)"),
    (rf"\b(?:the )?product of ({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+){N})+)", r"prod(\1)"),
    (rf"\bmultiply ({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*){N}){{2,}})$", r"prod(\1)"),
    (rf"\b(?:the )?median (?:of )?({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+){N})+)", r"median(\1)"),
    (rf"\b(?:the )?(?:max|maximum|largest|biggest|highest|greatest) (?:of )?({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+|\s+or\s+){N})+)", r"max(\1)"),
    (rf"\b(?:the )?(?:min|minimum|smallest|lowest|least) (?:of )?({N}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+|\s+or\s+){N})+)", r"min(\1)"),
    # splitting a bill
    (rf"^.*?\b(?:split|share|splitting|sharing|divide|dividing)\b.*?({N})(?!\d).*?\b({N}) ways\b.*$", r"\1 / \2"),
    (rf"^.*?\b(?:split|share|splitting|sharing|divide|dividing)\b.*?({N})(?!\d).*?\b(?:between|among|amongst|across|by|for)\s+({N})(?!\d).*$",
     r"\1 / \2"),
    (rf"^.*?({N})\s+(?:\w+\s+)?(?:split|shared|divided)\s+({N})\s+ways\b.*$", r"\1 / \2"),
    (rf"^({N})\s+(?:between|among|amongst|for)\s+({N})\s+(?:people|persons|friends|of us|ways|guys|kids)\b.*$", r"\1 / \2"),
    # verbs with two operands
    (rf"\badd ({N}) (?:and|to|plus) ({N})", r"\1 + \2"),
    (rf"\b(?:subtract|take|take away|deduct|remove) ({N}) from ({N})", r"\2 - \1"),
    (rf"\bmultiply ({N}) (?:by|and|with|times) ({N})", r"\1 * \2"),
    (rf"\bdivide ({N}) (?:by|over) ({N})", r"\1 / \2"),
    (rf"\bdivide ({N}) into ({N})", r"\2 / \1"),
    (rf"\b(?:the )?difference between ({N}) and ({N})", r"abs(\1 - \2)"),
    (rf"\b(?:the )?remainder (?:of|when|after) ({N}) (?:is )?(?:divided by|over|/) ({N})", r"\1 % \2"),
    (rf"\b({N}) (?:mod|modulo|modulus)\b", r"\1 %"),
    # powers and roots
    (r"\b(?:the )?cube root of\b|\bcubic root of\b", " cbrt "),
    (r"\b(?:the )?square root of\b|\bsqrt of\b|\broot of\b", " sqrt "),
    (rf"\b(?:the )?({N})(?:st|nd|rd|th) root of ({N})", r" root(\2, \1)"),
    (r"\bsquared\b", "**2"), (r"\bcubed\b", "**3"),
    (rf"\b(?:raised )?to the (?:power of |power )?({N})(?:st|nd|rd|th)?(?: power)?", r"** \1"),
    (r"\braised to(?: the power of)?\b|\bto the power\b|\bpower of\b|\bto the\b", "**"),
    (rf"\b(?:the )?factorial of ({N})", r"factorial(\1)"),
    (rf"({N}) factorial\b", r"factorial(\1)"), (rf"({N})\s*!", r"factorial(\1)"),
    (r"\b(?:the )?(?:absolute value|abs) of\b", " abs "),
    (r"\b(?:the )?natural log(?:arithm)? of\b|\bln of\b", " ln "),
    (r"\b(?:the )?log(?:arithm)? (?:base 10 )?of\b", " log "),
    (r"\b(?:the )?(sin|cos|tan|sine|cosine|tangent) of\b", r" \1 "),
    # parts: half of, two thirds of, double
    (rf"({N}) (halves|thirds|quarters|fourths|fifths|sixths|eighths|tenths) of\b", "FRACTION"),
    (r"\b(?:an?|one) (half|third|quarter|fourth|fifth|sixth|eighth|tenth) of\b|\b(half) of\b|\b(half) (?=\d)", "FRACTION"),
    (r"\b(?:double|twice)\b(?: of)?", "2 *"), (r"\b(?:triple|thrice|treble)\b", "3 *"), (r"\bquadruple\b", "4 *"),
    (rf"\bhalve ({N})", r"\1 / 2"),
    # operator words
    (r"\bmultiplied by\b|\btimes\b|\bmultiply by\b|\bmul\b", "*"),
    (r"(?<=\d)\s*[x]\s*(?=\d)", " * "), (r"(?<=\d)\s+x\s+(?=\()", " * "),
    (r"\bdivided by\b|\bover\b|\bdivide by\b|\bdiv\b", "/"),
    (r"\bplus\b|\badded to\b|\bincreased by\b|\band then add\b|\badd\b", "+"),
    (r"\bnegative (?=\d)", "-"), (r"\bminus\b|\btake away\b|\bless\b|\bdecreased by\b|\bsubtract\b", "-"),
    (r"(?<=[\d)])\s+of\s+(?=[\d(])|(?<=\))\s+of\b", " * "),
]
_LIST_CALLS = {"mean(\\1)", "sum(\\1)", "prod(\\1)", "median(\\1)", "max(\\1)", "min(\\1)"}
_COMPILED = [(re.compile(p, _I), r) for p, r in _REWRITES]


def _fraction(m: re.Match) -> str:
    groups = [g for g in m.groups() if g]
    if len(groups) == 2:
        return f"{groups[0]}/{_FRACTIONS[groups[1].lower()]} * "
    return f"1/{_FRACTIONS[groups[0].lower()]} * "


def _list(m: re.Match, replacement: str) -> str:
    name = replacement.split("(")[0]
    items = re.findall(N, m.group(1))
    return f"{name}({', '.join(i.replace(' ', '') for i in items)})"


def rewrite(s: str) -> str:
    """Apply the grammar rules (operator words, percentages, lists, ...) in order."""
    for pattern, replacement in _COMPILED:
        if replacement == "FRACTION":
            s = pattern.sub(_fraction, s)
        elif replacement in _LIST_CALLS:
            s = pattern.sub(lambda m, r=replacement: _list(m, r), s)
        else:
            s = pattern.sub(replacement, s)
    return re.sub(r"\s+", " ", s).strip()


def unit_phrase(words: str) -> list[str] | None:
    """The unit words of a phrase ("miles per hour" -> ["mile", "/", "hour"]), or None."""
    tokens = _unit_tokens(words.strip())
    if not tokens or not any(U.is_unit(t) for t in tokens):
        return None
    for i, t in enumerate(tokens):
        if not (U.is_unit(t) or t in ("/", "*", "(", ")") or re.fullmatch(r"\*\*\d", t)):
            return None
        if t == "/" and (i == 0 or i == len(tokens) - 1):
            return None
    return tokens


def _unit_tokens(words: str) -> list[str]:
    s = re.sub(r"\b(?:a|an|one|the|of|units?)\b", " ", words, flags=_I)
    s = re.sub(r"\bdeg(?:ree)?s?\s+(?=(?:c|f|celsius|fahrenheit|centigrade|kelvin)\b)", "", s, flags=_I)
    s = re.sub(r"\b(?:square|sq)\s+([A-Za-z]+)", r"\1 **2", s, flags=_I)
    s = re.sub(r"\bcubic\s+([A-Za-z]+)", r"\1 **3", s, flags=_I)
    s = re.sub(r"\bfl\.?\s*oz\b", "fluid_ounce", s, flags=_I)
    s = re.sub(r"\bper\b|\ba\b(?=\s+[A-Za-z])", "/", s, flags=_I)
    s = s.replace("/", " / ").replace("**", " **").replace("(", " ( ").replace(")", " ) ")
    words_ = s.split()
    out: list[str] = []
    i = 0
    while i < len(words_):
        w = words_[i]
        if i + 1 < len(words_) and re.fullmatch(r"[A-Za-z]+", w) and re.fullmatch(r"[A-Za-z]+", words_[i + 1]):
            joined = f"{w}_{words_[i + 1]}"
            if U.canonical(joined) is not None:  # "nautical mile", "light years", "metric tons"
                out.append(joined)
                i += 2
                continue
        out.append(w)
        i += 1
    return out


_TOKEN = re.compile(r"_n\d+|[A-Za-z_°µΩ][A-Za-z_°µΩ]*|\*\*|//|[-+*/%(),]|\S")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+)(¤?)")


def tokens(s: str, bindings: Bindings, money: set[str]) -> list[str]:
    """Numbers bound to placeholders, unit words resolved, implicit operators made explicit."""
    def number(m: re.Match) -> str:
        key = f"_n{len(bindings.numbers)}"
        bindings.numbers[key] = Fraction(m.group(1))
        if m.group(2):
            money.add(key)
        return f" {key} "

    s = _NUMBER.sub(number, s)
    s = s.replace("¤", "")
    raw = _TOKEN.findall(s)
    out: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if re.fullmatch(r"[A-Za-z_°µΩ]+", t) and not t.startswith("_n"):
            t = _word(t, nxt, raw, i, bindings)
            if t == "":
                i += 1
                continue
            if t == "SKIP2":
                t = _bind_unit(f"{raw[i]}_{raw[i + 1]}", bindings)
                i += 1
        out.append(t)
        i += 1
    return _implicit(_trim(out, bindings), bindings)


def _word(t: str, nxt: str, raw: list[str], i: int, bindings: Bindings) -> str:
    low = t.lower()
    if low in FUNCTIONS and nxt == "(":
        return low
    if low in ("sqrt", "cbrt", "abs", "ln", "log", "sin", "cos", "tan", "factorial", "exp", "sine", "cosine", "tangent"):
        return {"sine": "sin", "cosine": "cos", "tangent": "tan"}.get(low, low) + "@"  # applied to what follows
    if low in ("a", "an", "one", "per") and nxt and (U.is_unit(nxt) or nxt.lower() in ("square", "sq", "cubic")):
        if low == "per":
            return "/"
        key = f"_n{len(bindings.numbers)}"
        bindings.numbers[key] = Fraction(1)
        return key
    if low in ("the", "and", "by", "of", "is", "are", "equals", "equal", "makes", "make", "exactly"):
        return "and" if low == "and" else ""
    if nxt and re.fullmatch(r"[A-Za-z]+", nxt) and U.canonical(f"{t}_{nxt}") is not None:
        return "SKIP2"
    if low in ("deg", "degree", "degrees") and nxt.lower() in ("c", "f", "celsius", "fahrenheit", "centigrade", "kelvin"):
        return ""
    if low in CONSTANTS and (not out_prev_is_number(raw, i)):
        return low
    if U.is_unit(t):
        return _bind_unit(t, bindings)
    if low == "square" or low == "sq":
        return "SQUARE"
    if low == "cubic":
        return "CUBIC"
    return "?" + t


def out_prev_is_number(raw: list[str], i: int) -> bool:
    return i > 0 and raw[i - 1].startswith("_n")


def _bind_unit(word: str, bindings: Bindings) -> str:
    for key, w in bindings.units.items():
        if w == word:
            return key
    key = f"_u{len(bindings.units)}"
    bindings.units[key] = word
    return key


_BINARY = frozenset({"+", "-", "*", "/", "**", "%", "//", ","})


def _is_value_end(t: str) -> bool:
    return t.startswith(("_n", "_u")) or t == ")" or t in CONSTANTS


def _trim(out: list[str], bindings: Bindings) -> list[str]:
    """Unknown words before the first and after the last part of the calculation are dropped."""
    dropped = False
    while out and out[0].startswith("?"):
        out.pop(0)
        dropped = True
    if dropped and out and out[0] in _BINARY:  # "a grand minus 250": the dropped word was an operand
        raise CalcError(f"I can't tell what comes before '{out[0]}'", unreadable=True)
    dropped = joined = False
    while out and (out[-1].startswith("?") or out[-1] == "and"):
        joined = joined or out[-1] == "and"
        dropped = True
        out.pop()
    if joined or (dropped and out and not _is_value_end(out[-1])):  # "11 and a couple": the dropped words were an operand
        raise CalcError("I can't tell what the last words stand for", unreadable=True)
    unknown = [t[1:] for t in out if t.startswith("?")]
    if unknown:
        raise CalcError(f"I don't know the word '{unknown[0]}' in a calculation", unreadable=True)
    return out


def _implicit(out: list[str], bindings: Bindings) -> list[str]:
    result: list[str] = []
    i = 0
    while i < len(out):
        t = out[i]
        prev = result[-1] if result else ""
        if t in ("SQUARE", "CUBIC"):
            if i + 1 < len(out) and out[i + 1].startswith("_u"):
                result.extend(_join(prev, out[i + 1], bindings))
                key = f"_n{len(bindings.numbers)}"
                bindings.numbers[key] = Fraction(2 if t == "SQUARE" else 3)
                result.extend(["**", key])
                i += 2
                continue
            raise CalcError(f"'{t.lower()}' needs a unit after it", unreadable=True)
        if t == "and":
            t = "+" if prev.startswith("_u") and i + 1 < len(out) and out[i + 1].startswith("_n") else ""
            if not t:
                raise CalcError("I can't tell what 'and' joins here", unreadable=True)
        if t.endswith("@"):
            nxt = out[i + 1] if i + 1 < len(out) else ""
            if nxt.startswith("_n"):
                result.extend(_join(prev, t[:-1], bindings) + ["(", nxt, ")"])
                i += 2
                continue
            t = t[:-1]
        result.extend(_join(prev, t, bindings))
        i += 1
    return result


def _join(prev: str, t: str, bindings: Bindings) -> list[str]:
    """``[op, t]`` where two values meet without an operator: "3 km" multiplies, "5 ft 3 in" adds."""
    if not prev or not _is_value_end(prev):
        return [t]
    starts_value = t.startswith(("_n", "_u")) or t == "(" or t in FUNCTIONS or t in CONSTANTS
    if not starts_value:
        return [t]
    if prev.startswith("_u") and t.startswith("_n"):
        return ["+", t]
    if prev.startswith("_n") and t.startswith("_n"):
        raise CalcError("two numbers in a row with nothing between them", unreadable=True)
    if prev.startswith("_u") and t.startswith("_u"):
        raise CalcError(f"two units in a row ({bindings.units[prev]} {bindings.units[t]})", unreadable=True)
    return ["*", t]


def read(text: str) -> Reading:
    """Read ``text`` (a formula or everyday words) as an expression.

    Raises:
        CalcError: too long, or words that make no calculation (``unreadable``).
    """
    s = clean(text)
    s, sym = _money(s)
    s = _numbers_in_words(s)
    s, target = _split_target(s)
    s = rewrite(s)
    bindings = Bindings()
    money: set[str] = set()
    toks = tokens(s, bindings, money)
    if not toks:
        raise CalcError("that is not a calculation I can read", unreadable=True)
    expr = " ".join(toks)
    return Reading(expr, bindings, target, sym if money else None, percent=expr.startswith("topct ("),
                   tokens=toks, money_keys=money)
