"""Router test fixtures: fake-embedder routes, and one shared real MiniLM for the marked tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_embedder: loads the real all-MiniLM-L6-v2 (about 9 s, once)")


def count_writes(monkeypatch: pytest.MonkeyPatch, module, name: str) -> list[str]:
    """Wrap ``module.name(..., path)`` so each call's last argument (the file written) is recorded."""
    calls: list[str] = []
    real = getattr(module, name)

    def counting(*args):
        calls.append(str(args[-1]))
        return real(*args)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.fixture(scope="session")
def minilm():
    """The real embedder, loaded once per session."""
    from assistant.router.embedders import MiniLMEmbedder

    return MiniLMEmbedder(threads=2)
