"""Fuzzing the readers of user-supplied data: config files (row 12), the router's JSONL
evaluation files and the history import (row 11). Each either succeeds or raises the
project's own error naming where the problem is; an import that fails changes nothing."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, ConfigError, RouterError, StoreError
from assistant.memory.store import Store
from assistant.memory.transfer import export_jsonl, import_jsonl
from assistant.router.data import read_jsonl
from tests.fuzz.conftest import FUZZ, read_as
from tests.fuzz.test_fuzz_files import _toml_value, _values


def _key_paths() -> list[tuple[str, str]]:
    """(table, key) for every documented setting ("" table = top level)."""
    out = []
    for name, field in Settings.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        if sub:
            out += [(name, k) for k in sub]
        else:
            out.append(("", name))
    return out + [("runtime", "no_such_key"), ("no_such_table", "x")]


KEYS = _key_paths()


def _load(text: str) -> object:
    """Settings, or the ConfigError raised (anything else fails the test)."""
    return read_as("config.toml", text.encode("utf-8", errors="surrogatepass"), load_settings, ConfigError)[1]


def _clean(outcome: object) -> bool:
    return isinstance(outcome, Settings) or bool(isinstance(outcome, ConfigError) and outcome.message and outcome.hint)


@FUZZ
@given(st.text(max_size=200))
def test_config_random_text(text):
    assert _clean(_load(text))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KEYS), _values), max_size=5, unique_by=lambda kv: kv[0]))
def test_config_random_values_at_real_keys(pairs):
    top = [f"{k} = {_toml_value(v)}" for (t, k), v in pairs if not t]
    tables: dict[str, list[str]] = {}
    for (t, k), v in pairs:
        if t:
            tables.setdefault(t, []).append(f"{k} = {_toml_value(v)}")
    text = "\n".join(top + [f"[{t}]\n" + "\n".join(lines) for t, lines in tables.items()])
    assert _clean(_load(text))


_line = st.one_of(
    _values.map(json.dumps),
    st.fixed_dictionaries({"text": _values, "label": _values}).map(json.dumps),
    st.fixed_dictionaries({"text": st.text(max_size=20), "label": st.text(max_size=8)}).map(json.dumps),
    st.text(max_size=40),
)


@FUZZ
@given(st.lists(_line, max_size=10), st.booleans())
def test_router_jsonl_reader(lines, bom):
    data = (b"\xef\xbb\xbf" if bom else b"") + "\n".join(lines).encode("utf-8", errors="surrogatepass")
    path, result = read_as("train.jsonl", data, read_jsonl, RouterError)
    if isinstance(result, RouterError):
        assert path in result.message
    else:
        assert result and all(e.text.strip() and e.label.strip() for e in result)


@FUZZ
@given(st.binary(max_size=300))
def test_router_jsonl_reader_random_bytes(data):
    path, result = read_as("train.jsonl", data, read_jsonl, RouterError)
    assert not isinstance(result, RouterError) or path in result.message


def _backup_lines() -> list[str]:
    store = Store.memory()
    conv = store.create_conversation("kept")
    store.add_message(conv, "user", "hello there")
    buf = io.StringIO()
    export_jsonl(store, buf)
    return buf.getvalue().splitlines()


_BACKUP = _backup_lines()


@FUZZ
@given(st.data())
def test_history_import_is_all_or_nothing(data):
    lines = list(_BACKUP)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(lines)))
        lines.insert(i, data.draw(_line))
    if data.draw(st.booleans()) and len(lines) > 1:
        obj = json.loads(lines[-1]) if lines[-1].startswith("{") else None
        if isinstance(obj, dict):
            key = data.draw(st.sampled_from(sorted(obj) + ["extra"]))
            obj[key] = data.draw(_values)
            lines[-1] = json.dumps(obj)
    store = Store.memory()
    before = store.count_messages()
    try:
        import_jsonl(store, io.StringIO("\n".join(lines)))
    except AssistantError as exc:
        assert isinstance(exc, (StoreError, AssistantError)) and exc.message
        assert store.count_messages() == before  # nothing half-imported
