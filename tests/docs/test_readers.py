"""Each format's reader gives located blocks; anything unreadable is a Skip with a reason."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.docs.chunker import chunk_blocks
from assistant.docs.document import Block, Skip
from assistant.docs.readers import file_kind, read_document
from tests.docs.conftest import docx_bytes, pdf_bytes, xlsx_bytes


def test_plain_text_paragraphs_keep_line_numbers():
    doc = read_document("a.txt", b"first line\nsecond line\n\n\nthird para\n")
    assert [(b.text, b.start, b.end) for b in doc.blocks] == [("first line\nsecond line", 1, 2), ("third para", 5, 5)]
    assert doc.unit == "line"


def test_markdown_headings_code_fences_and_setext():
    text = ("Title\n=====\n\nintro text\n\n## Install\n\n```sh\npip install x\n\nmore\n```\n\n"
            "### Notes #\nlast words\n")
    blocks = read_document("r.md", text.encode()).blocks
    kinds = [(b.kind, b.level, b.text.splitlines()[0], b.start) for b in blocks]
    assert kinds == [("heading", 1, "Title", 1), ("text", 0, "intro text", 4), ("heading", 2, "Install", 6),
                     ("code", 0, "```sh", 8), ("heading", 3, "Notes", 14), ("text", 0, "last words", 15)]
    assert "more" in blocks[3].text  # a blank line inside a fence does not split it


def test_rst_titles_by_underline_order():
    text = "Guide\n=====\n\nHello.\n\nPart\n----\n\nBody text.\n"
    blocks = read_document("g.rst", text.encode()).blocks
    assert [(b.kind, b.level, b.text) for b in blocks] == [
        ("heading", 1, "Guide"), ("text", 0, "Hello."), ("heading", 2, "Part"), ("text", 0, "Body text.")]
    assert blocks[3].start == 9


def test_html_is_text_only():
    page = (b"<html><head><title>T</title><style>p{}</style><script>alert('x')</script></head><body>"
            b"<h2>Section</h2><p>Visible &amp; kept.</p><ul><li>one</li><li>two</li></ul></body></html>")
    blocks = read_document("p.html", page).blocks
    texts = [b.text for b in blocks]
    assert texts == ["T", "Section", "Visible & kept.", "one", "two"]
    assert blocks[1].kind == "heading" and blocks[1].level == 2
    assert not any("alert" in t or "p{}" in t for t in texts)


def test_source_code_blocks_and_lines():
    code = b"import os\n\n\ndef main():\n    return os.getcwd()\n"
    doc = read_document("tool.py", code)
    assert [(b.kind, b.start, b.end) for b in doc.blocks] == [("code", 1, 1), ("code", 4, 5)]


def test_pdf_pages_are_kept():
    doc = read_document("m.pdf", pdf_bytes([["Alpha page text."], ["Beta page text.", "More beta."]]))
    assert doc.unit == "page"
    assert {b.page for b in doc.blocks} == {1, 2}
    assert "Beta" in " ".join(b.text for b in doc.blocks if b.page == 2)
    assert all("Beta" not in b.text for b in doc.blocks if b.page == 1)


def test_docx_headings_paragraphs_and_tables():
    data = docx_bytes([("h1", "Policy"), ("p", "First rule."), ("table", "Item|Price;Tea|3"), ("p", "After.")])
    doc = read_document("d.docx", data)
    assert doc.unit == "paragraph"
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Policy"), ("text", "First rule."), ("row", "Item | Price"), ("row", "Tea | 3"), ("text", "After.")]
    assert [b.start for b in doc.blocks] == [1, 2, 3, 4, 5]


def test_csv_rows_carry_their_header_and_row_number():
    doc = read_document("p.csv", b"name,city\nAlice,Paris\n\nBob,Berlin\n")
    assert doc.unit == "row"
    assert [(b.text, b.start) for b in doc.blocks] == [("name: Alice; city: Paris", 2), ("name: Bob; city: Berlin", 4)]


def test_xlsx_every_sheet_is_a_heading_with_its_rows():
    data = xlsx_bytes({"Budget": [["item", "cost"], ["rent", 900]], "Staff": [["name"], ["Ada"]]})
    doc = read_document("b.xlsx", data)
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Budget"), ("row", "item: rent; cost: 900"), ("heading", "Staff"), ("row", "name: Ada")]
    chunks = chunk_blocks(doc.blocks)
    assert [c.heading for c in chunks] == ["Budget", "Staff"]


@pytest.mark.parametrize("name,data,reason", [
    ("x.txt", b"abc\x00def", "binary"),
    ("x.bin", b"whatever", "unsupported"),
    ("x.pdf", b"%PDF-1.4 garbage", "unreadable PDF"),
    ("x.docx", b"not a zip", "not a valid DOCX"),
    ("x.xlsx", b"PK\x03\x04broken", "not a valid XLSX"),
    ("x.md", b"\n\n   \n", "no text found"),
])
def test_bad_files_are_skipped_with_a_reason(name, data, reason):
    with pytest.raises(Skip) as err:
        read_document(name, data)
    assert reason in err.value.reason


def test_an_encrypted_pdf_is_skipped():
    data = pdf_bytes([["secret text"]], encrypt="hunter2")
    with pytest.raises(Skip, match="encrypted"):
        read_document("s.pdf", data)


def test_a_zip_bomb_docx_is_refused_before_parsing():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<a>" + b"A" * 30_000_000 + b"</a>")
    with pytest.raises(Skip, match="zip bomb"):
        read_document("bomb.docx", out.getvalue())


def test_file_kinds():
    assert file_kind("README") == "text" and file_kind("notes.MD") == "markdown"
    assert file_kind("a.tsv") == "tsv" and file_kind("main.rs") == "code" and file_kind("photo.jpg") is None
    assert file_kind(".bashrc") is None


_VALID = {}


def _valid(ext: str) -> bytes:
    if ext not in _VALID:
        _VALID[ext] = {
            ".pdf": lambda: pdf_bytes([["Alpha text on page one."], ["Beta text."]]),
            ".docx": lambda: docx_bytes([("h1", "T"), ("p", "Body text."), ("table", "a|b;c|d")]),
            ".xlsx": lambda: xlsx_bytes({"S": [["h"], ["v"]]}),
            ".html": lambda: b"<html><body><h1>x</h1><p>y</p></body></html>",
            ".md": lambda: b"# T\n\n```\ncode\n```\ntext\n",
            ".csv": lambda: b"a,b\n1,2\n",
        }[ext]()
    return _VALID[ext]


def _blocks_or_skip(name: str, data: bytes) -> list[Block] | Skip:
    """Read ``data``: its blocks, or the Skip it raised (any other error fails the test)."""
    try:
        return read_document(name, data).blocks
    except Skip as skip:
        return skip


def _well_formed(outcome: list[Block] | Skip) -> bool:
    """Blocks of text, or a Skip that gives its reason."""
    if isinstance(outcome, Skip):
        return bool(outcome.reason.strip())
    return all(isinstance(b, Block) and isinstance(b.text, str) for b in outcome)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ext=st.sampled_from([".pdf", ".docx", ".xlsx", ".html", ".md", ".csv", ".rst", ".txt", ".py"]),
       data=st.binary(max_size=2000))
def test_random_bytes_give_blocks_or_a_skip(ext, data):
    assert _well_formed(_blocks_or_skip("f" + ext, data))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ext=st.sampled_from([".pdf", ".docx", ".xlsx", ".html", ".md", ".csv"]), cut=st.floats(0, 1),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_truncated_and_mutated_files_give_blocks_or_a_skip(ext, cut, flips):
    data = bytearray(_valid(ext))
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    assert _well_formed(_blocks_or_skip("f" + ext, bytes(data[: max(1, int(len(data) * cut))])))
