"""One file's bytes in, blocks of text with their location out (or a reason to skip it).

Plain text, Markdown, reStructuredText, HTML and source code are read here; PDF, DOCX, CSV
and XLSX in :mod:`assistant.docs.office`. Every reader works on bytes already read (the
walker opens files itself, without following links), never on a path, and raises
:class:`~assistant.docs.document.Skip` for anything it cannot or should not read (what a
reader returns is in :mod:`assistant.docs.document`).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Callable

from assistant.docs import office
from assistant.docs.document import Block, Document, Kind, Skip, decode_text

TEXT_EXTS = frozenset({".txt", ".text", ".log"})
MARKDOWN_EXTS = frozenset({".md", ".markdown"})
RST_EXTS = frozenset({".rst"})
HTML_EXTS = frozenset({".html", ".htm", ".xhtml"})
CODE_EXTS = frozenset({
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".scala", ".c", ".h",
    ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".m", ".lua", ".r", ".jl", ".pl", ".sh", ".bash",
    ".zsh", ".ps1", ".sql", ".css", ".scss", ".vue", ".svelte", ".toml", ".yaml", ".yml", ".json", ".ini",
    ".cfg", ".conf", ".xml", ".tex", ".hs", ".ml", ".ex", ".exs", ".erl", ".clj", ".dart", ".zig", ".nim",
})
OFFICE_EXTS = frozenset({".pdf", ".docx", ".csv", ".tsv", ".xlsx"})
SUPPORTED_EXTS = TEXT_EXTS | MARKDOWN_EXTS | RST_EXTS | HTML_EXTS | CODE_EXTS | OFFICE_EXTS
NAMED_TEXT_FILES = frozenset({"readme", "license", "changelog", "makefile", "dockerfile", "notes", "todo"})


def file_kind(name: str) -> str | None:
    """The reader for a file name: ``text``, ``markdown``, ``rst``, ``html``, ``code`` or an
    office extension without the dot; ``None`` for an unsupported type."""
    lower = name.lower()
    ext = lower[lower.rfind("."):] if "." in lower.lstrip(".") else ""
    if ext in TEXT_EXTS or (not ext and lower in NAMED_TEXT_FILES):
        return "text"
    for kind, exts in (("markdown", MARKDOWN_EXTS), ("rst", RST_EXTS), ("html", HTML_EXTS), ("code", CODE_EXTS)):
        if ext in exts:
            return kind
    return ext[1:] if ext in OFFICE_EXTS else None


def _paragraphs(lines: list[str], kind: Kind = "text", offset: int = 0) -> list[Block]:
    """Blank-line separated runs of ``lines`` as blocks with their line numbers (``lines[0]``
    being line ``offset + 1``)."""
    out: list[Block] = []
    run: list[str] = []
    first = 0
    for number, line in enumerate(lines + [""], offset + 1):
        if line.strip():
            if not run:
                first = number
            run.append(line.rstrip())
        elif run:
            out.append(Block("\n".join(run), kind, start=first, end=first + len(run) - 1))
            run = []
    return out


def read_text(data: bytes) -> Document:
    return Document(_paragraphs(decode_text(data).splitlines()))


def read_code(data: bytes) -> Document:
    return Document(_paragraphs(decode_text(data).splitlines(), "code"))


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SETEXT = re.compile(r"^(=+|-+)\s*$")


def read_markdown(data: bytes) -> Document:
    """Headings (ATX and setext), fenced code kept whole, paragraphs between blank lines."""
    lines = decode_text(data).splitlines()
    out: list[Block] = []
    pending: list[tuple[int, str]] = []  # (line number, text) of the paragraph being read

    def flush() -> None:
        if pending:
            out.append(Block("\n".join(t for _, t in pending), start=pending[0][0], end=pending[-1][0]))
            pending.clear()

    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(marker):
                j += 1
            body = "\n".join(lines[i:j + 1]).strip()
            out.append(Block(body, "code", start=number, end=min(j + 1, len(lines))))
            i = j + 1
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            out.append(Block(atx.group(2), "heading", len(atx.group(1)), start=number, end=number))
        elif _SETEXT.match(line) and len(pending) == 1 and line.strip():
            text = pending.pop()[1]
            out.append(Block(text.strip(), "heading", 1 if line.strip()[0] == "=" else 2, start=number - 1, end=number))
        elif line.strip():
            pending.append((number, line.rstrip()))
        else:
            flush()
        i += 1
    flush()
    return Document(out)


_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")


def read_rst(data: bytes) -> Document:
    """Section titles (a line underlined with ``===``, ``---``, ...) become headings; the
    level is the order in which each underline character first appears."""
    lines = decode_text(data).splitlines()
    levels: dict[str, int] = {}
    out: list[Block] = []
    body: list[str] = []
    offset = 0
    i = 0
    while i < len(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if lines[i].strip() and _RST_UNDERLINE.match(nxt) and len(nxt.strip()) >= len(lines[i].strip()):
            out += _paragraphs(body, offset=offset)
            level = levels.setdefault(nxt.strip()[0], len(levels) + 1)
            out.append(Block(lines[i].strip(), "heading", level, start=i + 1, end=i + 2))
            i += 2
            body, offset = [], i
            continue
        if _RST_UNDERLINE.match(lines[i]) and not body and i == offset:
            i += 1  # an overline above a title
            offset = i
            continue
        body.append(lines[i])
        i += 1
    out += _paragraphs(body, offset=offset)
    return Document(out)


class _HTMLText(HTMLParser):
    """Visible text of an HTML page as blocks: headings, paragraphs, list items, cells."""

    BLOCK_TAGS = frozenset({"p", "div", "li", "tr", "br", "section", "article", "blockquote", "pre", "table",
                            "ul", "ol", "dl", "dt", "dd", "header", "footer", "main", "aside", "nav", "hr",
                            "figcaption", "td", "th", "form", "title"})
    HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._parts: list[str] = []
        self._line = 1
        self._hidden = 0
        self._heading = 0
        self._title: str | None = None
        self._in_title = False

    def _flush(self) -> None:
        text = " ".join("".join(self._parts).split())
        if text:
            kind: Kind = "heading" if self._heading else "text"
            self.blocks.append(Block(text, kind, self._heading, start=self._line, end=self.getpos()[0]))
        self._parts = []
        self._line = self.getpos()[0]

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title":
            self._in_title = True
        if tag in self.HIDDEN_TAGS:
            self._hidden += 1
        elif tag in self.HEADINGS or tag in self.BLOCK_TAGS:
            self._flush()
            if tag in self.HEADINGS:
                self._heading = self.HEADINGS[tag]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.HEADINGS or tag in self.BLOCK_TAGS:
            self._flush()
            self._heading = 0

    def handle_data(self, data: str) -> None:
        if self._in_title and self._title is None and data.strip():
            self._title = " ".join(data.split())
        if not self._hidden:
            if not "".join(self._parts).strip():
                self._line = self.getpos()[0]
            self._parts.append(data)


def read_html(data: bytes) -> Document:
    """Text only: scripts, styles and the head are left out; the page title is a heading."""
    parser = _HTMLText()
    try:
        parser.feed(decode_text(data))
        parser.close()
        parser._flush()
    except (AssertionError, ValueError) as exc:  # html.parser's own failures on broken markup
        raise Skip(f"unreadable HTML: {exc}") from None
    blocks = parser.blocks
    if parser._title and (not blocks or blocks[0].text != parser._title):
        blocks = [Block(parser._title, "heading", 1, start=1, end=1)] + blocks
    return Document(blocks)


def reader_for(kind: str) -> Callable[[bytes], Document]:
    """The function that reads files of ``kind`` (see :func:`file_kind`)."""
    if kind in ("pdf", "docx", "csv", "tsv", "xlsx"):
        return getattr(office, f"read_{kind}")
    return {"text": read_text, "markdown": read_markdown, "rst": read_rst, "html": read_html,
            "code": read_code}[kind]


def read_document(name: str, data: bytes) -> Document:
    """Blocks of the file called ``name`` whose content is ``data``.

    Raises:
        Skip: unsupported type, binary, encrypted, malformed or empty.
    """
    kind = file_kind(name)
    if kind is None:
        raise Skip("unsupported file type")
    try:
        doc = reader_for(kind)(data)
    except Skip:
        raise
    except (MemoryError, RecursionError):
        raise Skip("too complex to read (memory or nesting limit)") from None
    except Exception as exc:  # noqa: BLE001 - a parser bug or a hostile file must never stop the index
        raise Skip(f"unreadable {kind} file: {type(exc).__name__}: {str(exc)[:120]}") from None
    if not any(b.text.strip() for b in doc.blocks):
        raise Skip("no text found" + (" (a scanned PDF needs OCR first)" if kind == "pdf" else ""))
    return doc
