"""The tool-calling engine: narrow, choose under a grammar, fill arguments under a grammar.

Small models are poor at free-form tool calls; here they never write one. The request is
first narrowed to a few candidate tools by similarity to each tool's name and description
(an embedder when one is given, word overlap otherwise). If several remain, the model picks
one under a grammar that allows only their names. Then it fills the chosen tool's arguments
under a grammar made from the tool's ``inputSchema`` in which every argument may also be
``null``. A required argument left ``null`` is asked for once more under a grammar that does not
allow ``null`` (small models often write ``null`` for a value that is in the request); what that
answer gives is kept only when the user's words hold it, and whatever is still missing is asked
from the user, never invented. The result is checked with a JSON-schema validator before
anything is called.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from assistant.backends.base import ChatMessage
from assistant.tools.spec import ToolSpec

Generate = Callable[..., Any]  # ctx.generate / ModelAccess.generate: (messages, json_schema=...) -> Generation
_WORD = re.compile(r"[a-z0-9]+")
_TYPE_ALIASES = {"dict": "object", "float": "number", "tuple": "array", "list": "array", "int": "integer",
                 "bool": "boolean", "str": "string", "double": "number", "long": "integer"}
NONE_TOOL = "none"
# What a value schema without a type (or with "any") allows: any JSON value but null (the
# grammar adds null as "not given"). llama.cpp's grammar builder rejects a typeless schema
# and reads an empty one as an object.
ANY_VALUE = ["string", "number", "boolean", "array", "object"]
_SHAPED_BY = ("anyOf", "oneOf", "allOf", "enum", "const", "$ref", "properties", "items")


@dataclass
class ToolPlan:
    """What the engine decided for one request.

    Attributes:
        tool: the chosen tool, or ``None`` when none fits.
        arguments: the validated arguments (``null`` values dropped).
        missing: required arguments the user did not give (ask before calling).
        errors: validation problems that remain after one repair.
        candidates: the tools the model chose among, best first.
    """

    tool: ToolSpec | None
    arguments: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.tool is not None and not self.missing and not self.errors


# Schemas -----------------------------------------------------------------------------
def normalise_schema(schema: Any, one_value: bool = False) -> dict[str, Any]:
    """A JSON schema with Python-style type names (``dict``, ``float``, ``tuple``) fixed and
    ``any`` dropped, so both validators and the grammar builder accept it.

    ``one_value``: the schema of one value (an argument, an item); one that says nothing of its
    type gets :data:`ANY_VALUE` spelled out, as the grammar builder needs.
    """
    if not isinstance(schema, dict):
        return {"type": list(ANY_VALUE)} if one_value else {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            kinds = [_TYPE_ALIASES.get(k, k) for k in ([value] if isinstance(value, str) else value)]
            kinds = [k for k in kinds if k != "any"]
            if kinds:
                out["type"] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: normalise_schema(v, one_value=True) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = normalise_schema(value, one_value=True)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            out[key] = [normalise_schema(v, one_value=True) for v in value]
        elif key not in ("title", "$schema", "optional"):
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("type", "object")
        out.setdefault("properties", {})
    if one_value and "type" not in out and not any(k in out for k in _SHAPED_BY):
        out["type"] = list(ANY_VALUE)
    return out


def nullable_grammar(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema the model generates under: every top-level argument present, each either a
    valid value or ``null`` ("not given"); no other keys."""
    props = schema.get("properties", {})
    loose = {name: {"anyOf": [sub or {}, {"type": "null"}]} for name, sub in props.items()}
    return {"type": "object", "properties": loose, "required": list(props), "additionalProperties": False}


def schema_problems(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every problem the ``jsonschema`` validator finds, as short lines."""
    import jsonschema

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = cls(schema)
        return [f"{'.'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in validator.iter_errors(value)][:8]
    except jsonschema.SchemaError as exc:
        return [f"the tool's input schema is invalid: {exc.message}"]


# Narrowing ---------------------------------------------------------------------------
def tool_text(tool: ToolSpec) -> str:
    """What a tool is matched on: its name in words, and its description."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", tool.name).replace("_", " ").replace(".", " ").replace("-", " ")
    return f"{words}. {tool.description}"


def _words(text: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text.lower())]


def rank_tools(text: str, tools: Sequence[ToolSpec], embedder: Any = None) -> list[tuple[ToolSpec, float]]:
    """Tools by similarity to ``text``, best first (cosine of embeddings, else of TF-IDF words)."""
    if not tools:
        return []
    if embedder is not None:
        vectors = embedder.encode([text] + [tool_text(t) for t in tools])
        scores = [float(vectors[0] @ v) for v in vectors[1:]]
    else:
        docs = [Counter(_words(tool_text(t))) for t in tools]
        df = Counter(w for d in docs for w in d)
        idf = {w: math.log((1 + len(docs)) / (1 + n)) + 1 for w, n in df.items()}
        query = Counter(w for w in _words(text) if w in idf)
        scores = [_cosine(query, d, idf) for d in docs]
    order = sorted(range(len(tools)), key=lambda i: -scores[i])
    return [(tools[i], scores[i]) for i in order]


def _cosine(a: Counter[str], b: Counter[str], idf: dict[str, float]) -> float:
    dot = sum(a[w] * b[w] * idf[w] ** 2 for w in a if w in b)
    na = math.sqrt(sum((c * idf[w]) ** 2 for w, c in a.items()))
    nb = math.sqrt(sum((c * idf[w]) ** 2 for w, c in b.items()))
    return dot / (na * nb) if na and nb else 0.0


def candidates(text: str, tools: Sequence[ToolSpec], k: int, embedder: Any = None) -> list[ToolSpec]:
    """At most ``k`` tools worth asking the model about."""
    return [t for t, _ in rank_tools(text, tools, embedder)[:k]]


# Choosing and filling ----------------------------------------------------------------
def _listing(tools: Sequence[ToolSpec]) -> str:
    return "\n".join(f"- {t.name}: {t.description[:300]}" for t in tools)


def choose_tool(generate: Generate, request: str, tools: Sequence[ToolSpec], *, allow_none: bool = True,
                **gen: Any) -> ToolSpec | None:
    """The model's pick among ``tools`` under a grammar of their names (``None``: no tool fits)."""
    if len(tools) == 1 and not allow_none:
        return tools[0]
    names = [t.name for t in tools] + ([NONE_TOOL] if allow_none else [])
    schema = {"type": "object", "properties": {"tool": {"type": "string", "enum": names}}, "required": ["tool"],
              "additionalProperties": False}
    none_rule = f' Answer "{NONE_TOOL}" if no tool does what the user asks.' if allow_none else ""
    system = ("You choose which tool answers the user's request. Tools:\n" + _listing(tools) +
              f"\nReply with JSON: {{\"tool\": NAME}}.{none_rule}")
    reply = generate([ChatMessage("system", system), ChatMessage("user", request)], json_schema=schema,
                     **{"max_tokens": 32, "temperature": 0.0, **gen}).text()
    picked = _field(reply, "tool")
    return next((t for t in tools if t.name == picked), None)


def _field(reply: str, key: str) -> Any:
    try:
        value = json.loads(reply)
    except ValueError:
        return None
    return value.get(key) if isinstance(value, dict) else None


def fill_arguments(generate: Generate, request: str, tool: ToolSpec, *, context: Sequence[ChatMessage] = (),
                   defaults: dict[str, Any] | None = None, grounded: bool = True,
                   **gen: Any) -> tuple[dict[str, Any], list[str], list[str]]:
    """``(arguments, missing, errors)`` for ``tool`` from the request (see the module docstring).

    ``context`` is earlier conversation (e.g. the question this engine asked and the user's answer).
    ``defaults`` fill arguments the user did not give. With ``grounded``, a text value that
    shares no word with the request (or is a placeholder such as "your-repo-path") counts as
    not given. One repair is asked for when the answer breaks the schema.
    """
    schema = normalise_schema(tool.input_schema)
    props = schema.get("properties", {})
    if not props:
        return {}, [], schema_problems({}, schema) if schema.get("required") else []
    grammar = nullable_grammar(schema)
    system = (f"You fill in the arguments of the tool `{tool.name}`: {tool.description[:500]}\n"
              f"Arguments (JSON schema): {json.dumps(props)[:3000]}\n"
              "Take every value from the user's request, written the way the schema asks. "
              "Use null for a value the user did not give; never make one up.")
    messages = [ChatMessage("system", system), *context, ChatMessage("user", request)]
    params = {"max_tokens": 256, "temperature": 0.0, **gen}
    said = " ".join([request, *(m.content for m in context if m.role == "user")])
    source = Source(said.casefold(), set(_words(said))) if grounded else None

    def check(reply: str) -> tuple[dict[str, Any], list[str], list[str]]:
        return _check(reply, schema, source, defaults or {})

    reply = generate(messages, json_schema=grammar, **params).text()
    args, missing, errors = check(reply)
    if errors:
        fix = ChatMessage("user", "That is not valid: " + "; ".join(errors[:3]) + ". Reply again with only the JSON.")
        reply = generate(messages + [ChatMessage("assistant", reply), fix], json_schema=grammar, **params).text()
        args, missing, errors = check(reply)
    if missing and source is not None:
        found = _ask_for_missing(generate, messages, props, missing, source, params)
        if found:
            args, missing, errors = check(json.dumps(args | found))
    return args, missing, errors


def _ask_for_missing(generate: Generate, messages: list[ChatMessage], props: dict[str, Any], missing: list[str],
                     source: "Source", params: dict[str, Any]) -> dict[str, Any]:
    """Required values the model left null, asked once more under a grammar that cannot leave them
    null; a value is kept only when the user's words hold it (:func:`said_by_user`).

    A small model often writes null for a value that is in the request ("on the data my_data",
    "the act of 2013"); forced to write something, it copies it. Where the user gave nothing,
    it has to invent a value, which the check then drops, so the question is still asked.
    """
    grammar = {"type": "object", "properties": {k: props[k] for k in missing}, "required": list(missing),
               "additionalProperties": False}
    try:
        value = json.loads(generate(messages, json_schema=grammar, **params).text())
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in missing and said_by_user(v, source)}


_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def said_by_user(value: Any, source: "Source") -> bool:
    """Whether a value the model was made to write is in the user's words, which is stricter
    than :func:`is_grounded`: text the request contains as is, or whose every word of three or
    more letters it contains (give or take an ending), and no placeholder; or a number the
    request spells in digits. A forced answer invents codes and enum members as readily as
    anything else, so neither counts on its own, and a boolean, a list or a number given in
    words is not taken at all."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):  # "1,000" may be a thousand or one (a decimal comma)
        return any(value in (float(n.replace(",", "")), float(n.replace(",", "."))) for n in _NUMBER.findall(source.text))
    if not isinstance(value, str) or not value.strip():
        return False
    if value.strip().casefold() in source.text:
        return True
    words = [w for w in _words(value) if len(w) >= 3]
    return bool(words) and not _PLACEHOLDER.search(value) and all(_same_word(w, source.words) for w in words)


# Currency, ticker, country and exchange codes: schemas ask for them where people write names.
_CODE = re.compile(r"[A-Z][A-Z0-9]{1,5}")
_PLACEHOLDER = re.compile(r"\b(your|my|example|placeholder|sample|todo|xxx+)\b|path/to|<[^>]*>", re.I)


@dataclass(frozen=True)
class Source:
    """What the user said: the text (case-folded) and its words."""

    text: str
    words: set[str]


def is_grounded(value: Any, source: Source, prop: dict[str, Any]) -> bool:
    """Whether a generated value can come from the user's words: text the user wrote as is,
    an enum member, a code in capitals ("USD", "AAPL"), or text that shares a word of three or
    more letters with theirs (give or take an ending, :func:`_same_word`) and is no placeholder
    ("your-repo-path", "<city>"). Other values (numbers, lists) are not judged."""
    if not isinstance(value, str) or "enum" in prop or prop.get("type", "string") != "string":
        return True  # a wrong type is the validator's business (and gets one repair)
    if value.strip().casefold() in source.text:
        return True
    if _PLACEHOLDER.search(value):
        return False
    if _CODE.fullmatch(value.strip()):
        return True  # a code for what the user wrote in words: "US dollars" -> USD, Apple -> AAPL
    words = [w for w in _words(value) if len(w) >= 3]
    return not words or any(_same_word(w, source.words) for w in words)


def _same_word(word: str, said: set[str]) -> bool:
    """``word`` is one of ``said``, or one of them with an ending of up to three letters added
    or dropped ("German" / "Germany", "detail" / "detailed", "weakness" / "weaknesses"; the
    shorter at least five letters long, so "stock" is not "Stockholm")."""
    if word in said:
        return True

    def ending(short: str, long: str) -> bool:
        return len(short) >= 5 and 0 < len(long) - len(short) <= 3 and long.startswith(short)

    return any(ending(word, w) or ending(w, word) for w in said)


def _check(reply: str, schema: dict[str, Any], source: Source | None,
           defaults: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    try:
        value = json.loads(reply)
    except ValueError:
        return {}, [], ["the answer is not JSON"]
    if not isinstance(value, dict):
        return {}, [], ["the answer is not a JSON object"]
    props = schema.get("properties", {})
    args = {k: v for k, v in value.items() if v is not None and not (isinstance(v, str) and not v.strip())}
    if source is not None:
        args = {k: v for k, v in args.items() if is_grounded(v, source, props.get(k, {}))}
    args |= {k: v for k, v in defaults.items() if k in props and k not in args}
    missing = [k for k in schema.get("required", []) if k not in args]
    problems = [p for p in schema_problems(args, schema) if not any(f"'{m}' is a required" in p for m in missing)]
    return args, missing, problems


def plan(generate: Generate, request: str, tools: Sequence[ToolSpec], *, max_candidates: int = 3,
         embedder: Any = None, allow_none: bool = True, context: Sequence[ChatMessage] = (),
         defaults: dict[str, Any] | None = None, grounded: bool = True, **gen: Any) -> ToolPlan:
    """Narrow, choose and fill for one request (see the module docstring)."""
    shortlist = candidates(request, tools, max_candidates, embedder)
    names = [t.name for t in shortlist]
    tool = choose_tool(generate, request, shortlist, allow_none=allow_none, **gen) if shortlist else None
    if tool is None:
        return ToolPlan(None, candidates=names)
    args, missing, errors = fill_arguments(generate, request, tool, context=context, defaults=defaults,
                                           grounded=grounded, **gen)
    return ToolPlan(tool, args, missing, errors, names)


def question_for(tool: ToolSpec, missing: Sequence[str]) -> str:
    """The question that asks the user for the required values they did not give."""
    props = normalise_schema(tool.input_schema).get("properties", {})
    parts = []
    for name in missing:
        about = str(props.get(name, {}).get("description", "")).strip()
        parts.append(f"- **{name}**" + (f": {about}" if about else ""))
    return f"To run `{tool.name}` I need a value for:\n" + "\n".join(parts) + "\nWhat should I use?"
