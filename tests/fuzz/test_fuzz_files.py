"""Fuzzing the readers of untrusted files: GGUF pre-check, skill manifests, the extract
skill's table readers (RELIABILITY rows 2, 9, 10). Each must either accept the input or
raise the project's own error naming the file; nothing else may escape."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from assistant.errors import AssistantError, ModelFileError, SkillError
from assistant.models.gguf_check import check_gguf
from assistant.models.tiny import write_tiny_llama
from assistant.skills.files import Limits, read_table
from assistant.skills.manifest import parse_manifest
from tests.fuzz.conftest import FUZZ, read_as

_TINY: dict[str, bytes] = {}


def _tiny_bytes() -> bytes:
    if "b" not in _TINY:
        with tempfile.TemporaryDirectory() as tmp:
            _TINY["b"] = write_tiny_llama(Path(tmp) / "t.gguf").read_bytes()
    return _TINY["b"]


def _gguf_outcome(data: bytes) -> bool:
    """True when the pre-check accepted the bytes or refused them naming the file."""
    path, result = read_as("model.gguf", data, check_gguf, ModelFileError)
    return not isinstance(result, ModelFileError) or path in result.message


@FUZZ
@given(st.binary(max_size=512))
def test_gguf_precheck_random_bytes(data):
    assert _gguf_outcome(data)


@FUZZ
@given(st.binary(max_size=64))
def test_gguf_precheck_random_bytes_after_magic(tail):
    assert _gguf_outcome(b"GGUF" + tail)


@FUZZ
@given(st.data())
def test_gguf_precheck_mutated_valid_file(data):
    raw = bytearray(_tiny_bytes())
    # Header, key/value and tensor-info region: where a hostile file lies about sizes.
    region = min(len(raw), 4096)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, region - 1))
        width = data.draw(st.sampled_from([1, 4, 8]))
        value = data.draw(st.sampled_from([0, 0xFF, 0x7F, 0x80]) | st.integers(0, 255))
        raw[at : at + width] = bytes([value]) * len(raw[at : at + width])
    cut = data.draw(st.none() | st.integers(0, len(raw)))
    assert _gguf_outcome(bytes(raw[:cut] if cut is not None else raw))


_MANIFEST_KEYS = ["name", "description", "model", "prompt", "examples", "negatives", "tools", "eval",
                  "fallback", "priority", "version", "unknown_key"]
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _toml_value(v) -> str:
    import json
    import math

    if v is None:
        return '""'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


@FUZZ
@given(st.dictionaries(st.sampled_from(_MANIFEST_KEYS), _values, max_size=8))
def test_manifest_random_values(fields):
    text = "\n".join(f"{k} = {_toml_value(v)}" for k, v in fields.items())
    try:
        parse_manifest(text, Path("/skills/x/skill.toml"))
    except AssistantError as exc:
        assert "skill.toml" in exc.message


@FUZZ
@given(st.text(max_size=300))
def test_manifest_random_text(text):
    try:
        parse_manifest(text, Path("/skills/x/skill.toml"))
    except AssistantError as exc:
        assert "skill.toml" in exc.message


_SMALL = Limits(max_bytes=64_000, max_rows=500, max_seconds=5.0)


@FUZZ
@given(st.sampled_from([".csv", ".tsv", ".json", ".jsonl", ".xlsx", ".txt", ".md"]), st.binary(max_size=400))
def test_table_reader_random_bytes(ext, data):
    assert _table_outcome(f"data{ext}", data)


def _table_outcome(name: str, data: bytes) -> bool:
    """True when the reader gave records or a SkillError naming the file."""
    path, result = read_as(name, data, lambda p: read_table(p, _SMALL), SkillError)
    if isinstance(result, SkillError):
        return name in result.message or path in result.message
    return all(isinstance(r, dict) for r in result.rows)


@FUZZ
@given(st.sampled_from([".json", ".jsonl", ".csv"]),
       st.lists(st.one_of(_values.map(lambda v: __import__("json").dumps(v)), st.text(max_size=30)), max_size=12))
def test_table_reader_structured_junk(ext, lines):
    assert _table_outcome(f"data{ext}", "\n".join(lines).encode("utf-8", errors="surrogatepass"))


def _workbook_bytes() -> bytes:
    # Made once: a workbook's bytes carry a timestamp, and hypothesis needs the same input
    # space on every run.
    if "xlsx" not in _TINY:
        import openpyxl

        with tempfile.TemporaryDirectory() as tmp:
            good = Path(tmp) / "good.xlsx"
            wb = openpyxl.Workbook()
            wb.active.append(["name", "amount"])
            wb.active.append(["alice", 3])
            wb.save(good)
            _TINY["xlsx"] = good.read_bytes()
    return _TINY["xlsx"]


@FUZZ
@given(st.data())
def test_xlsx_reader_truncated_and_mutated_workbook(data):
    raw = bytearray(_workbook_bytes())
    cut = data.draw(st.integers(0, len(raw)))
    for _ in range(data.draw(st.integers(0, 4))):
        if cut:
            raw[data.draw(st.integers(0, cut - 1))] = data.draw(st.integers(0, 255))
    assert _table_outcome("bad.xlsx", bytes(raw[:cut]))
