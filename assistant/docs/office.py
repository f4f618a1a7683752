"""PDF (pypdf), DOCX (python-docx), CSV/TSV and XLSX (openpyxl) bytes as located blocks.

Zip containers (DOCX, XLSX) are checked before any XML is parsed: a member count, unpacked
size or compression ratio past the caps is refused as a possible zip bomb (RELIABILITY row 9);
XLSX is parsed only with defusedxml active, and python-docx's parser resolves no entities.
A PDF is read page by page with a page cap; an encrypted one is skipped unless it opens with
an empty password.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

from assistant.docs.document import Block, Document, Skip, decode_text

MAX_PAGES = 2_000
MAX_ROWS = 50_000
MAX_ZIP_MEMBERS = 10_000
MAX_UNZIPPED_BYTES = 200_000_000
MAX_ZIP_RATIO = 100.0
MAX_CELL_CHARS = 20_000
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título)\s*(\d)", re.I)


def check_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """The archive in ``data``, once its members are known to unpack within the caps."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Skip(f"not a valid {what} file (damaged zip container)") from None
    members = archive.infolist()
    total = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if len(members) > MAX_ZIP_MEMBERS or total > MAX_UNZIPPED_BYTES or total / packed > MAX_ZIP_RATIO:
        archive.close()
        raise Skip(f"would unpack to {total:,} bytes ({total / packed:.0f}x its size): refused as a possible zip bomb")
    return archive


# PDF ---------------------------------------------------------------------------------------
def _pdf_paragraphs(text: str, page: int) -> list[Block]:
    """A page's text split at blank lines; when pypdf gives none, at lines ending a sentence."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    out: list[Block] = []
    run: list[str] = []
    for line in lines + [""]:
        if line.strip():
            run.append(line.strip())
        if run and (not line.strip() or (len(run) >= 6 and run[-1][-1:] in ".!?:")):
            out.append(Block("\n".join(run), page=page))
            run = []
    return out


def read_pdf(data: bytes) -> Document:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise Skip("reading PDF needs the package pypdf (pip install pypdf)") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Skip("encrypted PDF (needs a password)")
        pages = reader.pages
        if len(pages) > MAX_PAGES:
            raise Skip(f"more than {MAX_PAGES:,} pages")
        blocks: list[Block] = []
        for number, page in enumerate(pages, 1):
            blocks += _pdf_paragraphs(page.extract_text() or "", number)
    except Skip:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Skip(f"unreadable PDF: {type(exc).__name__}: {str(exc)[:120]}") from None
    return Document(blocks, unit="page")


# DOCX --------------------------------------------------------------------------------------
def read_docx(data: bytes) -> Document:
    """Paragraphs in order (Heading/Title styles become headings) and table rows; locations
    count paragraphs, since a DOCX file has no fixed pages."""
    try:
        import docx
    except ImportError:
        raise Skip("reading DOCX needs the package python-docx (pip install python-docx)") from None
    check_zip(data, "DOCX").close()
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises several types for broken files
        raise Skip(f"unreadable DOCX: {type(exc).__name__}: {str(exc)[:120]}") from None
    blocks: list[Block] = []
    number = 0
    for item in document.iter_inner_content():
        if hasattr(item, "rows"):  # a table: one block per row, cells joined
            for row in item.rows:
                cells = [" ".join(c.text.split()) for c in row.cells]
                text = " | ".join(dict.fromkeys(c for c in cells if c))
                if text:
                    number += 1
                    blocks.append(Block(text, "row", start=number, end=number))
            continue
        text = item.text.strip()
        if not text:
            continue
        number += 1
        style = (item.style.name if item.style is not None else "") or ""
        level = _HEADING_STYLE.match(style)
        if level or style.lower() == "title":
            blocks.append(Block(text, "heading", int(level.group(1)) if level else 1, start=number, end=number))
        else:
            blocks.append(Block(text, start=number, end=number))
    return Document(blocks, unit="paragraph")


# Tables ------------------------------------------------------------------------------------
def _row_text(header: list[str], values: list[str]) -> str:
    pairs = [(h, v) for h, v in zip(header, values, strict=False) if v]
    extra = [v for v in values[len(header):] if v]
    return "; ".join([f"{h}: {v}" if h else v for h, v in pairs] + extra)


def _table(rows, sheet: str | None = None) -> list[Block]:
    """Rows as blocks ``column: value; ...``; the first non-empty row is the header. Row
    numbers are the spreadsheet's own (1 = the header row)."""
    blocks: list[Block] = []
    header: list[str] | None = None
    for number, values in enumerate(rows, 1):
        if number > MAX_ROWS:
            raise Skip(f"more than {MAX_ROWS:,} rows")
        cells = ["" if v is None else " ".join(str(v).split())[:MAX_CELL_CHARS] for v in values]
        if not any(cells):
            continue
        if header is None:
            header = cells
            if sheet:
                blocks.append(Block(sheet, "heading", 1, start=number, end=number))
            continue
        text = _row_text(header, cells)
        blocks.append(Block(text, "row", start=number, end=number))
    if header is not None and not any(b.kind == "row" for b in blocks):
        blocks.append(Block(" | ".join(h for h in header if h), "row", start=1, end=1))
    return blocks


def _delimited(data: bytes, default: type[csv.Dialect]) -> Document:
    text = decode_text(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = default
    old = csv.field_size_limit(MAX_CELL_CHARS * 10)
    try:
        return Document(_table(csv.reader(io.StringIO(text), dialect)), unit="row")
    except csv.Error as exc:
        raise Skip(f"unreadable CSV: {exc}") from None
    finally:
        csv.field_size_limit(old)


def read_csv(data: bytes) -> Document:
    return _delimited(data, csv.excel)


def read_tsv(data: bytes) -> Document:
    return _delimited(data, csv.excel_tab)


def read_xlsx(data: bytes) -> Document:
    """Every sheet's rows; each sheet's name is a heading, so a citation names it."""
    try:
        import defusedxml  # noqa: F401 - openpyxl parses XML safely only when it is installed
        import openpyxl
        from openpyxl.xml import DEFUSEDXML
    except ImportError:
        raise Skip("reading XLSX needs the packages openpyxl and defusedxml") from None
    if not DEFUSEDXML:
        raise Skip("openpyxl is not using defusedxml; refusing to parse XLSX")
    check_zip(data, "XLSX").close()
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise Skip(f"unreadable XLSX: {type(exc).__name__}: {str(exc)[:120]}") from None
    try:
        blocks: list[Block] = []
        for sheet in book.worksheets:
            blocks += _table(sheet.iter_rows(values_only=True), sheet.title)
    finally:
        book.close()
    return Document(blocks, unit="row")
