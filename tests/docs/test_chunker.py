"""Chunks follow headings and pages, stay within the word limit and lose no text."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.docs.chunker import chunk_blocks, split_block
from assistant.docs.document import Block
from assistant.docs.readers import read_document


def test_headings_start_chunks_and_give_their_path():
    md = b"# Guide\n\nintro\n\n## Linux\n\nrun make\n\n# Other\n\ntext\n"
    chunks = chunk_blocks(read_document("g.md", md).blocks)
    assert [(c.heading, c.text) for c in chunks] == [("Guide", "intro"), ("Guide > Linux", "run make"),
                                                     ("Other", "text")]


def test_paragraphs_are_merged_up_to_the_target_but_never_across_pages():
    blocks = [Block("one " * 30, page=1), Block("two " * 30, page=1), Block("three " * 30, page=2)]
    chunks = chunk_blocks(blocks, target=100, limit=160)
    assert [c.page for c in chunks] == [1, 2]
    assert chunks[0].text.count("two") == 30


def test_a_long_paragraph_is_split_with_its_lines():
    lines = [f"line {i} " + "word " * 20 for i in range(1, 21)]
    block = Block("\n".join(lines), start=10, end=29)
    parts = split_block(block, limit=50)
    assert len(parts) > 1 and all(len(p.text.split()) <= 50 for p in parts)
    assert parts[0].start == 10 and parts[-1].end == 29
    assert all(a.end + 1 == b.start for a, b in itertools.pairwise(parts))


def test_one_enormous_line_is_cut_at_sentences_and_words():
    block = Block(("A sentence here. " * 40) + "x" * 10 + " y" * 400, start=3, end=3)
    parts = split_block(block, limit=60)
    assert all(len(p.text.split()) <= 60 for p in parts) and {p.start for p in parts} == {3}


words = st.text(alphabet="abcdefgh", min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(words, min_size=1, max_size=120), st.booleans(), st.integers(1, 3)),
                min_size=1, max_size=25))
def test_no_text_is_lost_and_chunks_stay_small(paragraphs):
    blocks = [Block(" ".join(ws), "heading" if head else "text", 1 if head else 0, page=page, start=i, end=i)
              for i, (ws, head, page) in enumerate(paragraphs, 1)]
    chunks = chunk_blocks(blocks, target=40, limit=60)
    body = [w for b in blocks if b.kind != "heading" for w in b.text.split()]
    got = [w for c in chunks for w in c.text.split()]
    if body:
        assert got == body
    assert all(len(c.text.split()) <= 60 for c in chunks)
    assert all(c.start is not None and c.start <= c.end for c in chunks)
