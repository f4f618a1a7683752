"""Fixtures for the benchmark tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings(isolated_home):
    from assistant.config import load_settings

    return load_settings()
