"""Structured answers: grammar-constrained generation, validation, one repair, then an error.

The JSON schema goes to the backend as ``json_schema`` (the llama.cpp backend turns it into a
grammar), the answer is parsed and validated (pydantic for model classes, a small JSON-schema
checker for plain schemas), and an invalid answer is asked for again once with the error.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from pydantic import BaseModel, TypeAdapter, ValidationError

from assistant.backends.base import ChatMessage
from assistant.errors import SkillError

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def schema_of(schema: dict[str, Any] | type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic model class, or ``schema`` itself."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return schema


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Problems with ``value`` under the JSON-schema subset skills use.

    Supported: type (one or a list), enum, const, properties, required,
    additionalProperties=false, items, minItems/maxItems, minimum/maximum, minLength/maxLength.
    """
    kinds = schema.get("type")
    if kinds:
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        allowed = tuple(t for k in kinds for t in _TYPES.get(k, ()))
        is_bool = isinstance(value, bool)
        if not isinstance(value, allowed) or (is_bool and "boolean" not in kinds):
            return [f"{path}: expected {'/'.join(kinds)}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above the maximum {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, path)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    return errors


def _object_errors(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    props = schema.get("properties", {})
    errors = [f"{path}.{k}: missing" for k in schema.get("required", []) if k not in value]
    if schema.get("additionalProperties") is False:
        errors += [f"{path}.{k}: not allowed" for k in value if k not in props]
    for key, sub in props.items():
        if key in value and isinstance(sub, dict):
            errors += schema_errors(value[key], sub, f"{path}.{key}")
    return errors


def parse_json(text: str) -> Any:
    """The JSON value in a model's answer (bare, or inside a code fence).

    Raises:
        ValueError: no JSON value found.
    """
    candidates = [text.strip()] + [m.strip() for m in _FENCE.findall(text)]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            pass
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start >= 0:
        try:
            return json.JSONDecoder().raw_decode(text[start:])[0]
        except ValueError:
            pass
    raise ValueError("the answer is not JSON")


def validate(text: str, schema: dict[str, Any] | type[BaseModel]) -> Any:
    """Parse and validate an answer; returns the value (a model instance for pydantic schemas).

    Raises:
        ValueError: with a short description of every problem.
    """
    value = parse_json(text)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            return TypeAdapter(schema).validate_python(value)
        except ValidationError as exc:
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in exc.errors()[:5])) from None
    problems = schema_errors(value, schema)
    if problems:
        raise ValueError("; ".join(problems[:5]))
    return value


def repair_message(error: str, schema: dict[str, Any]) -> ChatMessage:
    return ChatMessage("user", f"Your answer was not valid: {error}. Reply again with only JSON that matches "
                               f"this schema, nothing else:\n{json.dumps(schema)}")


def generate_structured(generate: Any, messages: list[ChatMessage], schema: dict[str, Any] | type[BaseModel], *,
                        skill: str, grammar: dict[str, Any] | None = None, **gen: Any) -> Any:
    """Ask for an answer in ``schema``; validate it; repair once; else raise.

    Args:
        generate: ``ctx.generate`` or ``ModelAccess.generate`` (called with ``json_schema``).
        messages: the prompt.
        schema: a JSON schema or a pydantic model class.
        skill: the skill's name, for the error message.
        grammar: a stricter schema to constrain generation with (default: ``schema``), so a
            caller can validate loosely and report problems per record.
        gen: generation settings.

    Raises:
        SkillError: the answer did not match the schema after one repair attempt.
    """
    json_schema = schema_of(schema)
    if _is_label(json_schema):
        return _generate_label(generate, messages, json_schema["enum"], skill=skill, **gen)
    json_schema = grammar or json_schema
    answer = generate(messages, json_schema=json_schema, **gen).text()
    try:
        return validate(answer, schema)
    except ValueError as first:
        retry = list(messages) + [ChatMessage("assistant", answer), repair_message(str(first), json_schema)]
        answer = generate(retry, json_schema=json_schema, **gen).text()
        try:
            return validate(answer, schema)
        except ValueError as second:
            raise SkillError(f"skill '{skill}' gave an answer that does not match its output schema: {second}",
                             "try rephrasing the request; the model could not produce valid output") from None


def _is_label(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and isinstance(schema.get("enum"), list)


def match_label(text: str, labels: list[Any]) -> str | None:
    """The label a short answer names (case, quotes and punctuation ignored), or ``None``.

    The whole answer is tried first, then each label as a whole phrase inside it (so labels
    like "Sci/Tech" or "not spam" work); when several appear, the earliest wins.
    """
    wanted = {str(label).lower(): str(label) for label in labels}
    clean = " ".join(text.lower().split()).strip(" \t\"'`*.,;:!()[]{}")
    if clean in wanted:
        return wanted[clean]
    found = []
    for key, label in wanted.items():
        m = re.search(rf"(?<![\w/-]){re.escape(key)}(?![\w/-])", clean)
        if m:
            found.append((m.start(), -len(key), label))
    return min(found)[2] if found else None


def _generate_label(generate: Any, messages: list[ChatMessage], labels: list[Any], *, skill: str, **gen: Any) -> str:
    # A one-word label is asked for as plain text: forcing JSON quotes would change the
    # answer format a label prompt (or a fine-tuned adapter) was made for.
    answer = generate(messages, **gen).text()
    label = match_label(answer, labels)
    if label is None:
        retry = list(messages) + [ChatMessage("assistant", answer),
                                  ChatMessage("user", f"Answer with exactly one of: {', '.join(map(str, labels))}.")]
        answer = generate(retry, **gen).text()
        label = match_label(answer, labels)
    if label is None:
        raise SkillError(f"skill '{skill}' answered {answer.strip()[:60]!r}, which is not one of {labels}",
                         "try rephrasing the request")
    return label


def dump(value: Any) -> str:
    """A validated value as pretty JSON text."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def records_errors(records: Iterable[Any], schema: dict[str, Any]) -> list[tuple[int, str]]:
    """``(index, problems)`` for every record that does not match ``schema``."""
    return [(i, "; ".join(p[:3])) for i, r in enumerate(records) if (p := schema_errors(r, schema))]
