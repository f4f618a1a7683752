"""Document fixtures made in the test with the libraries themselves (reportlab, python-docx,
openpyxl), and an in-memory store with the fake embedder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.memory.store import Store
from assistant.router.embedders import FakeEmbedder


def pdf_bytes(pages: list[list[str]], encrypt: str | None = None) -> bytes:
    """A PDF with one page per item, each line drawn as text (reportlab)."""
    pytest.importorskip("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    kwargs = {}
    if encrypt:
        from reportlab.lib import pdfencrypt

        kwargs["encrypt"] = pdfencrypt.StandardEncryption(encrypt, canPrint=0)
    pdf = canvas.Canvas(out, pagesize=A4, **kwargs)
    for lines in pages:
        y = 800
        for line in lines:
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def docx_bytes(items: list[tuple[str, str]]) -> bytes:
    """A DOCX from (style, text) pairs; style "h1"/"h2" for headings, "p" for paragraphs,
    "table" for a "a|b;c|d" table."""
    import docx

    document = docx.Document()
    for style, text in items:
        if style.startswith("h"):
            document.add_heading(text, level=int(style[1:]))
        elif style == "table":
            rows = [r.split("|") for r in text.split(";")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for i, row in enumerate(rows):
                for j, cell in enumerate(row):
                    table.cell(i, j).text = cell
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def store():
    s = Store.memory()
    yield s
    s.close()


@pytest.fixture
def embedder():
    return FakeEmbedder()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder with a PDF (the warranty on page 2), a DOCX and two Markdown files."""
    root = tmp_path / "library"
    (root / "notes").mkdir(parents=True)
    (root / "manual.pdf").write_bytes(pdf_bytes([
        ["Espresso machine manual", "Chapter 1: unpacking the machine.", "Remove the foam and the plastic film."],
        ["Chapter 2: warranty terms.", "The warranty covers the pump and the boiler for three years.",
         "Keep the receipt as proof of purchase."],
    ]))
    (root / "handbook.docx").write_bytes(docx_bytes([
        ("h1", "Staff handbook"), ("p", "Every employee gets twenty-five vacation days per year."),
        ("h2", "Parking"), ("p", "Parking permits are issued by the front desk on Mondays."),
    ]))
    (root / "notes" / "garden.md").write_text(
        "# Garden\n\nWater the tomatoes every morning in July.\n\n## Compost\n\nTurn the compost heap weekly.\n")
    (root / "notes" / "travel.md").write_text("# Travel\n\nThe train to Lyon leaves from platform nine.\n")
    return root


@pytest.fixture(scope="session")
def minilm():
    """The real embedder (torch path), loaded once per session."""
    from assistant.router.embedders import MiniLMEmbedder

    return MiniLMEmbedder(threads=2)
