"""Fixtures for the memory tests (the data dir is already isolated by tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.memory.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "assistant.db"


@pytest.fixture
def store(db_path: Path):
    s = Store.open(db_path)
    yield s
    s.close()
