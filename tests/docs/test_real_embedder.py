"""Retrieval quality and the relevance floor with the real all-MiniLM-L6-v2."""

from __future__ import annotations

import pytest

from assistant.docs.hits import relevant
from assistant.docs.index import DocsIndex
from assistant.docs.search import DocsSearch

pytestmark = pytest.mark.real_embedder


@pytest.fixture
def search(store, minilm, library):
    index = DocsIndex(store)
    index.add(library, "lib")
    index.scan("lib")
    index.embed_pending(minilm)
    return DocsSearch(store, lambda: minilm)


def _found(search, minilm, query):
    return [h for h in search.search(query) if relevant(h, query, minilm.related_similarity)]


@pytest.mark.parametrize("query,citation", [
    ("How many years does the warranty cover?", "manual.pdf, p. 2"),
    ("how long is the pump guaranteed for", "manual.pdf, p. 2"),  # a paraphrase: no shared content word but "pump"
    ("how much paid time off do staff get", "handbook.docx, paragraph 2"),
    ("when do I need to water the plants", 'notes/garden.md, line 3, section "Garden"'),
])
def test_questions_find_their_passage(search, minilm, query, citation):
    found = _found(search, minilm, query)
    assert found and found[0].citation().startswith(citation), [(h.citation(), h.similarity) for h in found]


@pytest.mark.parametrize("query", [
    "what is the boiling point of mercury in kelvin",
    "who won the football world cup in 1998",
    "how do I configure a kubernetes ingress",
])
def test_absent_questions_find_nothing(search, minilm, query):
    assert _found(search, minilm, query) == [], [(h.citation(), h.similarity) for h in search.search(query)]


def test_adding_and_searching_documents_makes_no_network_connection(library, tmp_path):
    """RELIABILITY row 14 for documents: `docs add` and `docs search` with every outbound
    connection refused and logged (tests/e2e/netblock), on the real embedder."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    netblock = Path(__file__).resolve().parent.parent / "e2e" / "netblock"
    log = tmp_path / "net.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(netblock), os.environ.get("PYTHONPATH", "")]),
               NETBLOCK_LOG=str(log))
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("TRANSFORMERS_OFFLINE", None)

    def run(*args):
        proc = subprocess.run([sys.executable, "-m", "assistant", "docs", *args], env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert json.loads(run("add", str(library), "--name", "lib", "--json"))["added"] == 4
    hits = json.loads(run("search", "how long is the pump guaranteed for", "--json"))
    assert hits[0]["citation"] == "manual.pdf, p. 2"
    assert not log.exists() or log.read_text() == "", log.read_text()
