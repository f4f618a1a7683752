"""Hostile and malformed GGUF files are refused before llama.cpp sees them (row 2)."""

from __future__ import annotations

import os
import struct

import pytest

from assistant.backends.base import ChatMessage, GenerationRequest
from assistant.backends.manager import ModelManager
from assistant.config import load_settings
from assistant.errors import ModelError, ModelFileError
from assistant.models.gguf_check import check_gguf


def header(version=3, n_tensors=0, n_kv=0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def bad_files(tiny: bytes) -> dict[str, bytes]:
    key = b"general.name"
    return {
        "empty": b"",
        "random": os.urandom(4096),
        "truncated_header": b"GGUF\x03\x00",
        "version_99": header(99) + b"\0" * 64,
        "absurd_tensor_count": header(3, 2**60, 0) + b"\0" * 64,
        "absurd_kv_count": header(3, 0, 2**62) + b"\0" * 64,
        "string_len_max": header(3, 0, 1) + struct.pack("<Q", 2**64 - 1) + b"x" * 64,
        "value_string_len_max": header(3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 2**64 - 1),
        "array_count_huge": header(3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 4, 2**40),
        "unknown_value_type": header(3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 77) + b"\0" * 16,
        "cut_at_half": tiny[: len(tiny) // 2],
    }


@pytest.fixture(scope="module")
def tiny_bytes(tiny_gguf):
    return tiny_gguf.read_bytes()


@pytest.mark.parametrize("kind", list(bad_files(b"x" * 100)))
def test_bad_file_is_refused_naming_the_file(tmp_path, tiny_bytes, kind):
    path = tmp_path / f"{kind}.gguf"
    path.write_bytes(bad_files(tiny_bytes)[kind])
    with pytest.raises(ModelFileError) as exc:
        check_gguf(path)
    assert str(path) in exc.value.message
    assert exc.value.hint


def test_good_file_passes_and_reports_metadata(tiny_gguf):
    info = check_gguf(tiny_gguf)
    assert info.architecture == "llama"
    assert info.context_length == 2048
    assert "im_start" in info.chat_template


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        check_gguf(tmp_path / "nope.gguf")


def test_previous_model_keeps_working_after_a_bad_load(tiny_gguf, tmp_path, tiny_bytes):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(tiny_bytes[: len(tiny_bytes) // 2])
    settings = load_settings(overrides={
        "default_model": "tiny",
        "models": {
            "tiny": {"source": "path", "path": str(tiny_gguf), "trained_ctx": 2048, "n_ctx": 512},
            "bad": {"source": "path", "path": str(bad), "trained_ctx": 2048, "n_ctx": 512},
        },
    })
    manager = ModelManager(settings)
    good = manager.get("tiny")
    with pytest.raises(ModelError) as exc:
        manager.get("bad")
    assert str(bad) in str(exc.value)
    assert manager.loaded() == ["tiny"]
    text = good.stream(GenerationRequest([ChatMessage("user", "hi")], max_tokens=4, temperature=0)).text()
    assert isinstance(text, str)
    assert [s.state for s in manager.states() if s.name == "bad"] == ["failed"]


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.99])
def test_truncations_are_refused(tmp_path, tiny_bytes, cut):
    path = tmp_path / "t.gguf"
    path.write_bytes(tiny_bytes[: int(len(tiny_bytes) * cut)])
    with pytest.raises(ModelFileError):
        check_gguf(path)
