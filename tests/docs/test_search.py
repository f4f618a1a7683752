"""Keyword, vector and fused rankings; collection filters; the vector cache follows changes."""

from __future__ import annotations

import pytest

from assistant.docs.hits import DocHit, content_words, keyword_coverage, relevant
from assistant.docs.index import DocsIndex
from assistant.docs.search import FTS_WEIGHT, RRF_K, VECTOR_WEIGHT, DocsSearch, fuse


@pytest.fixture
def indexed(store, embedder, library):
    index = DocsIndex(store)
    index.add(library, "lib")
    index.scan("lib")
    index.embed_pending(embedder)
    return index


@pytest.mark.parametrize("mode", ["hybrid", "fts", "vector"])
def test_every_mode_finds_the_page_with_the_answer(store, embedder, indexed, mode):
    hits = DocsSearch(store, lambda: embedder).search("how many years does the warranty cover", mode=mode)
    assert hits[0].path == "manual.pdf" and hits[0].page == 2
    assert hits[0].citation() == "manual.pdf, p. 2"
    if mode != "fts":
        assert hits[0].similarity is not None and hits[0].vector_rank == 1


def test_hybrid_fuses_both_rankings(store, embedder, indexed):
    search = DocsSearch(store, lambda: embedder)
    hits = search.search("vacation days for employees", limit=3)
    top = hits[0]
    assert top.path == "handbook.docx" and top.keyword_rank == 1 and top.vector_rank is not None
    assert top.citation().startswith("handbook.docx, paragraph")
    expected = FTS_WEIGHT / (RRF_K + 1) + VECTOR_WEIGHT / (RRF_K + top.vector_rank)
    assert top.score == pytest.approx(expected, abs=1e-6)


def test_without_an_embedder_keywords_still_answer(store, indexed):
    hits = DocsSearch(store).search("platform for the train to Lyon")
    assert hits[0].path == "notes/travel.md" and hits[0].similarity is None
    assert hits[0].citation() == 'notes/travel.md, line 3, section "Travel"'


def test_collection_filter(store, embedder, indexed, library):
    indexed.add(library / "notes", "notes")
    indexed.scan("notes")
    search = DocsSearch(store, lambda: embedder)
    assert {h.collection for h in search.search("tomatoes", limit=10)} == {"lib", "notes"}
    assert {h.collection for h in search.search("tomatoes", collections=["notes"], limit=10)} == {"notes"}
    assert search.search("tomatoes", collections=["nothing"]) == []


def test_the_vector_cache_follows_reindexing(store, embedder, indexed, library):
    search = DocsSearch(store, lambda: embedder)
    assert all("roses" not in h.text for h in search.search("prune roses dusk autumn", mode="vector"))
    (library / "notes" / "garden.md").write_text("# Garden\n\nPrune the roses at dusk in autumn.\n")
    indexed.scan("lib")
    indexed.embed_pending(embedder)
    hit = search.search("prune roses dusk autumn", mode="vector")[0]
    assert hit.path == "notes/garden.md" and "roses" in hit.text
    indexed.remove("lib")
    assert search.search("prune roses", mode="vector") == []


def test_fts_syntax_in_a_query_is_literal(store, indexed):
    for query in ('"unbalanced', "NEAR(a b)", "col:value", "*", "AND OR NOT", ""):
        hits = DocsSearch(store).search(query, mode="fts")  # never raises
        assert isinstance(hits, list) and all(h.path for h in hits)


def test_relevance_floor_and_keyword_coverage():
    hit = DocHit(1, "c", "a.md", "line", "", "The warranty covers the pump.", None, 1, 1, 0.1, similarity=0.1)
    assert not relevant(hit, "warranty pump", floor=0.3)
    assert relevant(DocHit(**{**hit.__dict__, "similarity": 0.5}), "warranty pump", floor=0.3)
    unembedded = DocHit(**{**hit.__dict__, "similarity": None})
    assert relevant(unembedded, "what does the warranty cover", 0.3)
    assert not relevant(unembedded, "mercury boiling point", 0.3)
    assert keyword_coverage("pumps warranty", "the pump warranty") == 1.0
    assert content_words("What does my document say about the Pump?") == ["pump"]


def test_fuse_adds_weighted_reciprocal_ranks():
    order, scores = fuse([([1, 2, 3], 1.0), ([3, 1], 0.5)], k=5)
    assert order == [1, 3, 2]
    assert scores[1] == pytest.approx(1 / 6 + 0.5 / 7) and scores[2] == pytest.approx(1 / 7)
