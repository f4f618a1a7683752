"""Calculator skill: exact arithmetic and unit conversion from everyday wording.

The deterministic reader (``calclib``) answers almost everything in milliseconds: operator
words, number words, percentages, lists, money and units (through pint). When it cannot read
a request and the skill has model access, the small model only *translates* the request into
the calculator's expression language, under a JSON schema whose pattern admits nothing else;
the evaluator still computes the answer, and the reply says the reading was inferred. What is
still not a calculation is handed to the fallback (chat) skill with :class:`HandOff`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Iterator

from assistant.skills import ChatMessage, HandOff, Progress, SkillContext

LIB = Path(__file__).resolve().parent / "calclib"
EXPRESSION_PATTERN = r"^[0-9A-Za-z .,+*/()%-]+$"  # "+", not {1,80}: a far smaller grammar
INFER_BUDGET_S = 10.0  # past this the turn goes to the chat skill (the target is well under 1.5 s)
INFER_SCHEMA = {
    "type": "object",
    "properties": {"expression": {"type": "string", "pattern": EXPRESSION_PATTERN}},
    "required": ["expression"],
    "additionalProperties": False,
}
INFER_PROMPT = (
    "Rewrite the request as one calculator expression: numbers, + - * / ** ( ), pct(N) for N percent, "
    "sqrt() mean() sum(), or a conversion like 5 km to miles. "
    'Reply {"expression": "none"} if it is not a calculation.'
)
_MATHY = re.compile(
    r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|double|twice|triple|percent|plus|minus|times|divided|sum|"
    r"average|mean|product|square|root|cube|convert|how many|how much|calculate|compute)\b", re.I)


def load_lib() -> ModuleType:
    """The ``calclib`` package beside this file, imported once under a private name."""
    name = "assistant_calclib_" + hashlib.sha1(str(LIB).encode()).hexdigest()[:10]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, LIB / "__init__.py", submodule_search_locations=[str(LIB)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.core")


core = load_lib()
CalcError = core.CalcError
answer = core.answer
calculate = core.calculate


def infer(ctx: SkillContext, text: str) -> str | None:
    """The model's reading of ``text`` in the expression language, or None ("none", or no JSON)."""
    messages = [ChatMessage("system", INFER_PROMPT), ChatMessage("user", text)]
    generation = ctx.models.generate(messages, json_schema=INFER_SCHEMA, max_tokens=48, temperature=0.0, top_k=1,
                                     seed=0)
    pieces = []
    deadline = time.monotonic() + INFER_BUDGET_S
    stream = iter(generation)
    for piece in stream:  # a busy machine must not make the skill look hung: give up, hand over
        pieces.append(piece)
        if time.monotonic() > deadline or ctx.cancel.is_set():
            stream.close()  # a generator: closing it stops the model
            return None
    reply = "".join(pieces)
    try:
        expression = str(json.loads(reply)["expression"]).strip()
    except (ValueError, KeyError, TypeError):
        return None
    if not expression or expression.lower() in ("none", "null") or not re.match(EXPRESSION_PATTERN, expression):
        return None
    return expression


def respond(ctx: SkillContext) -> Iterator[str | Progress]:
    """Answer a calculation; hand the turn over when it is not one.

    Raises:
        HandOff: the request is not a calculation this skill can read.
    """
    try:
        yield core.answer(ctx.text).text()
        return
    except CalcError as exc:
        if not exc.unreadable:
            yield f"I can't calculate that: {exc}."
            return
        reason = str(exc)
    if getattr(ctx, "models", None) is not None and _MATHY.search(ctx.text):
        yield Progress("reading the request with the model")
        expression = infer(ctx, ctx.text)
        if expression is not None:
            try:
                yield f"I read this as: {core.answer(expression).text()}"
                return
            except CalcError as exc:
                if not exc.unreadable:
                    yield f"I read this as {expression}, and can't calculate it: {exc}."
                    return
    raise HandOff(f"not a calculation ({reason})", "the chat skill answers it instead")
