"""Scanning: only changed files are re-read, deletions are followed, links are not, and
removing a collection removes every chunk, index entry and vector."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from assistant.docs.index import DocsError, DocsIndex
from assistant.docs.search import DocsSearch


def _count(store, table: str) -> int:
    return store.select(f"SELECT count(*) AS n FROM {table}")[0]["n"]


def _fts_hits(store, word: str) -> int:
    return store.select("SELECT count(*) AS n FROM docs_chunks_fts WHERE docs_chunks_fts MATCH ?", (f'"{word}"',))[0]["n"]


def test_scan_indexes_every_format_and_lists_skips(store, embedder, library):
    (library / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (library / "broken.pdf").write_bytes(b"%PDF-1.7 nope")
    index = DocsIndex(store)
    index.add(library, "lib")
    report = index.scan("lib")
    assert report.added == 4 and report.changed == 0
    assert dict(report.skipped) == {"broken.pdf": dict(report.skipped)["broken.pdf"], "photo.jpg": "unsupported file type"}
    assert "unreadable PDF" in dict(report.skipped)["broken.pdf"]
    assert index.embed_pending(embedder) == index.get("lib").chunks > 0
    coll = index.get("lib", embedder.name)
    assert (coll.files, coll.skipped, coll.state) == (4, 2, "ready") and coll.embedded == coll.chunks
    assert dict(index.skipped("lib"))["photo.jpg"] == "unsupported file type"


def test_reindex_touches_only_changed_files_and_follows_deletions(store, embedder, library):
    index = DocsIndex(store)
    index.add(library, "lib")
    index.scan("lib")
    index.embed_pending(embedder)
    chunks_before = {r["id"] for r in store.select("SELECT id FROM docs_chunks")}
    again = index.scan("lib")
    assert (again.added, again.changed, again.unchanged, again.removed) == (0, 0, 4, 0)
    # A new modification time with the same content: the hash says unchanged, nothing re-chunked.
    garden = library / "notes" / "garden.md"
    os.utime(garden, ns=(garden.stat().st_atime_ns, garden.stat().st_mtime_ns + 5_000_000_000))
    touched = index.scan("lib")
    assert touched.unchanged == 4 and touched.changed == 0
    assert {r["id"] for r in store.select("SELECT id FROM docs_chunks")} == chunks_before
    # A real change re-chunks that file only; its old chunks and vectors go.
    garden.write_text("# Garden\n\nWater the roses at dusk.\n")
    changed = index.scan("lib")
    assert changed.changed == 1 and changed.unchanged == 3
    assert _fts_hits(store, "tomatoes") == 0 and _fts_hits(store, "roses") == 1
    assert index.embed_pending(embedder) == 1
    # A deleted file takes its chunks, FTS entries and vectors with it.
    (library / "notes" / "travel.md").unlink()
    gone = index.scan("lib")
    assert gone.removed == 1 and _fts_hits(store, "lyon") == 0
    assert _count(store, "docs_vectors") == _count(store, "docs_chunks") == index.get("lib").chunks
    # Full re-reads every file; unchanged hashes still mean nothing is re-chunked.
    full = index.scan("lib", full=True)
    assert full.unchanged == 3 and full.changed == 0


def test_symlinks_out_of_the_folder_are_not_followed(store, library, tmp_path: Path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("the launch code is swordfish")
    (library / "key.txt").symlink_to(secret / "key.txt")
    (library / "elsewhere").symlink_to(secret, target_is_directory=True)
    (library / "alias.md").symlink_to(library / "notes" / "garden.md")
    index = DocsIndex(store)
    index.add(library, "lib")
    skipped = dict(index.scan("lib").skipped)
    assert "outside the collection" in skipped["key.txt"] and "outside the collection" in skipped["elsewhere"]
    assert "inside the collection" in skipped["alias.md"]
    assert _fts_hits(store, "swordfish") == 0
    assert not store.select("SELECT 1 FROM docs_chunks WHERE text LIKE '%swordfish%'")
    assert _fts_hits(store, "tomatoes") == 1  # the link's target is indexed once, under its own name


def test_large_files_and_globs(store, library):
    (library / "big.txt").write_text("word " * 3000)
    index = DocsIndex(store)
    index.add(library, "lib", globs=["*.md", "*.txt"], max_bytes=10_000)
    report = index.scan("lib")
    assert report.added == 2  # garden.md, travel.md; the PDF and DOCX are not selected
    assert "larger than the limit" in dict(report.skipped)["big.txt"]


def test_rm_deletes_chunks_vectors_and_index_entries(store, embedder, library):
    index = DocsIndex(store)
    index.add(library, "lib")
    index.add(library / "notes", "notes")
    index.scan("lib")
    index.scan("notes")
    index.embed_pending(embedder)
    assert _fts_hits(store, "tomatoes") == 2
    index.remove("lib")
    assert [c.name for c in index.collections()] == ["notes"]
    assert _fts_hits(store, "tomatoes") == 1 and _fts_hits(store, "warranty") == 0
    assert _count(store, "docs_vectors") == _count(store, "docs_chunks") == index.get("notes").chunks
    index.remove("notes")
    for table in ("docs_files", "docs_chunks", "docs_vectors"):
        assert _count(store, table) == 0, table
    assert _fts_hits(store, "tomatoes") == 0
    assert (library / "manual.pdf").exists()  # the user's files are never touched


def test_add_refuses_bad_input(store, library, tmp_path):
    index = DocsIndex(store)
    with pytest.raises(DocsError, match="not a folder"):
        index.add(tmp_path / "nope")
    with pytest.raises(DocsError, match="not a valid collection name"):
        index.add(library, "Bad Name!")
    index.add(library)
    assert index.get("library").root == str(library.resolve())
    with pytest.raises(DocsError, match="already the collection"):
        index.add(library, "other")
    with pytest.raises(DocsError, match="no collection named"):
        index.get("missing")


def test_a_search_during_indexing_sees_what_is_indexed(store, embedder, tmp_path, monkeypatch):
    from assistant.docs import index as index_mod

    root = tmp_path / "many"
    root.mkdir()
    for i in range(120):
        (root / f"f{i:03d}.txt").write_text(f"document number {i} about topic{i}")
    monkeypatch.setattr(index_mod, "WRITE_EVERY_FILES", 10)
    index = DocsIndex(store)
    index.add(root, "many")
    gate, resume = threading.Event(), threading.Event()

    def progress(stage, done, total):
        if done == 60:
            gate.set()
            resume.wait(10)

    worker = threading.Thread(target=index.scan, args=("many",), kwargs={"progress": progress})
    worker.start()
    assert gate.wait(10)
    coll = index.get("many")
    assert coll.state == "indexing" and coll.files_total == 120 and 0 < coll.files_done < 120
    hits = DocsSearch(store).search("topic5", mode="fts")
    assert [h.path for h in hits] == ["f005.txt"]
    assert DocsSearch(store).search("topic110", mode="fts") == []  # not read yet
    resume.set()
    worker.join(10)
    assert index.get("many").state == "ready"
    assert [h.path for h in DocsSearch(store).search("topic110", mode="fts")] == ["f110.txt"]


def test_embedding_is_batched_with_progress(store, library, embedder):
    index = DocsIndex(store)
    index.add(library, "lib")
    index.scan("lib")
    seen = []
    total = index.get("lib").chunks
    done = index.embed_pending(embedder, batch=2, progress=lambda s, d, t: seen.append((s, d, t)))
    assert done == total and seen[-1] == ("embedding", total, total)
    assert len(seen) == (total + 1) // 2
    assert index.embed_pending(embedder) == 0  # nothing left


def test_an_interrupted_scan_is_reported(store, library):
    index = DocsIndex(store)
    index.add(library, "lib")
    index.scan("lib", stop=lambda: True)
    assert index.get("lib").state == "interrupted"
