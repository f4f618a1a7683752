"""Reading user files safely (size, row and time caps) and writing results beside them.

Hostile inputs fail fast with a clear error: oversized files, zip bombs disguised as
spreadsheets (the compressed size and ratio are checked before any XML is parsed), XML entity
tricks (openpyxl is used only together with defusedxml), endless rows or cells.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from assistant.errors import SkillError

TEXT_EXTS = {".txt", ".md", ".markdown", ".rst", ".log"}
TABLE_EXTS = {".csv", ".tsv", ".json", ".jsonl", ".xlsx"}


@dataclass(frozen=True)
class Limits:
    """Caps for one file. Defaults suit a laptop: generous for real data, fatal for bombs."""

    max_bytes: int = 20_000_000
    max_rows: int = 50_000
    max_cell_chars: int = 100_000
    max_seconds: float = 20.0
    max_unzipped_bytes: int = 200_000_000
    max_zip_ratio: float = 100.0


@dataclass
class Table:
    """Rows read from a file, as dicts keyed by column name."""

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def _too_big(path: Path, limits: Limits) -> None:
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise SkillError(f"{path.name} is {size:,} bytes; the limit is {limits.max_bytes:,}",
                         "split the file, or select the part you need")


def _deadline(limits: Limits) -> float:
    return time.monotonic() + limits.max_seconds


def _check_time(deadline: float, path: Path) -> None:
    if time.monotonic() > deadline:
        raise SkillError(f"reading {path.name} took too long and was stopped", "use a smaller file")


def read_text(path: Path, limits: Limits = Limits()) -> str:
    """A text file's content (UTF-8, undecodable bytes replaced), within the size cap."""
    if not path.is_file():
        raise SkillError(f"{path} is not a file", "check the path")
    if path.suffix.lower() == ".pdf":
        raise SkillError(f"{path.name}: PDF files are not supported yet", "convert it to text first (e.g. pdftotext)")
    _too_big(path, limits)
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise SkillError(f"{path.name} looks like a binary file, not text", "give a .txt, .md or .csv file")
    return data.decode("utf-8-sig", errors="replace")


def _csv(path: Path, limits: Limits) -> Table:
    text = read_text(path, limits)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    old = csv.field_size_limit(limits.max_cell_chars)
    deadline = _deadline(limits)
    try:
        reader = csv.reader(io.StringIO(text), dialect)
        header = next(reader, [])
        columns = _columns(header)
        rows: list[dict[str, Any]] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= limits.max_rows:
                raise SkillError(f"{path.name} has more than {limits.max_rows:,} rows", "split the file")
            _check_time(deadline, path)
            rows.append({c: (values[i].strip() if i < len(values) else "") for i, c in enumerate(columns)})
    except csv.Error as exc:
        raise SkillError(f"{path.name}: not a readable CSV file: {exc}", "check the file's format") from None
    finally:
        csv.field_size_limit(old)
    return Table(path, columns, rows)


def _columns(header: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(header):
        name = str(name).strip() if name is not None else ""
        name = name or f"column_{i + 1}"
        while name in out:
            name += "_"
        out.append(name)
    return out


def _json(path: Path, limits: Limits) -> Table:
    text = read_text(path, limits)
    try:
        if path.suffix.lower() == ".jsonl":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise SkillError(f"{path.name}: invalid JSON: {exc}", "check the file's format") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else [data]
    if not isinstance(data, list):
        raise SkillError(f"{path.name}: expected a list of records", "give a JSON array of objects")
    if len(data) > limits.max_rows:
        raise SkillError(f"{path.name} has more than {limits.max_rows:,} records", "split the file")
    rows = [r if isinstance(r, dict) else {"value": r} for r in data]
    columns = _columns(dict.fromkeys(k for r in rows for k in r))
    return Table(path, columns, rows)


def check_zip(path: Path, limits: Limits) -> None:
    """Refuse a zip container (XLSX) whose members would unpack too large (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SkillError(f"{path.name} is not a valid .xlsx file: {exc}", "save it again from your spreadsheet app") from None
    total = sum(m.file_size for m in members)
    packed = max(1, sum(m.compress_size for m in members))
    if total > limits.max_unzipped_bytes or total / packed > limits.max_zip_ratio:
        raise SkillError(f"{path.name} would unpack to {total:,} bytes ({total / packed:.0f}x its size); refused as a possible zip bomb",
                         "open and re-save it, or export it as CSV")


def _xlsx(path: Path, limits: Limits) -> Table:
    _too_big(path, limits)
    check_zip(path, limits)
    try:
        import defusedxml  # noqa: F401  - openpyxl parses XML safely only when this is installed
        import openpyxl
    except ImportError:
        raise SkillError("reading .xlsx needs the packages openpyxl and defusedxml",
                         "pip install openpyxl defusedxml, or export the sheet as CSV") from None
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:
        raise SkillError("openpyxl is not using defusedxml", "reinstall defusedxml, or export the sheet as CSV")
    deadline = _deadline(limits)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise SkillError(f"{path.name}: cannot read the spreadsheet: {type(exc).__name__}: {exc}",
                         "export it as CSV") from None
    try:
        values = book.active.iter_rows(values_only=True)
        columns = _columns(next(values, ()) or ())
        rows: list[dict[str, Any]] = []
        for record in values:
            _check_time(deadline, path)
            if len(rows) >= limits.max_rows:
                raise SkillError(f"{path.name} has more than {limits.max_rows:,} rows", "split the file")
            if record and any(v is not None for v in record):
                rows.append({c: ("" if v is None else v) for c, v in zip(columns, record, strict=False)})
    finally:
        book.close()
    return Table(path, columns, rows)


def read_table(path: Path, limits: Limits = Limits()) -> Table:
    """Records from a CSV/TSV, JSON/JSONL, XLSX or text file (one record per non-empty line).

    Raises:
        SkillError: unsupported, oversized, slow, malformed or hostile files.
    """
    if not path.is_file():
        raise SkillError(f"{path} is not a file", "check the path")
    ext = path.suffix.lower()
    if ext in (".csv", ".tsv"):
        return _csv(path, limits)
    if ext in (".json", ".jsonl"):
        return _json(path, limits)
    if ext == ".xlsx":
        return _xlsx(path, limits)
    if ext in TEXT_EXTS:
        lines = [ln.strip() for ln in read_text(path, limits).splitlines() if ln.strip()]
        if len(lines) > limits.max_rows:
            raise SkillError(f"{path.name} has more than {limits.max_rows:,} lines", "split the file")
        return Table(path, ["text"], [{"text": ln} for ln in lines])
    raise SkillError(f"{path.name}: unsupported file type '{ext}'",
                     f"supported: {', '.join(sorted(TABLE_EXTS | TEXT_EXTS))}")


def beside(source: Path, tag: str, ext: str) -> Path:
    """A new file name next to ``source`` that does not exist yet (``data.tag.ext``, ``data.tag-2.ext``)."""
    base = source.with_name(f"{source.stem}.{tag}")
    candidate = base.with_name(base.name + ext)
    n = 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}{ext}")
        n += 1
    return candidate


def format_rows(rows: list[dict[str, Any]], columns: list[str], fmt: str) -> str:
    """Rows as ``json``, ``csv`` or ``markdown`` text."""
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2, ensure_ascii=False, default=str)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    return markdown_table(rows, columns)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict[str, Any]], columns: list[str], limit: int | None = None) -> str:
    shown = rows if limit is None else rows[:limit]
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in shown]
    if limit is not None and len(rows) > limit:
        lines.append(f"\n({len(rows) - limit} more rows)")
    return "\n".join(lines)


def write_new(path: Path, text: str) -> Path:
    """Create ``path`` with ``text``; never overwrites (``FileExistsError`` becomes an error)."""
    try:
        with path.open("x", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except FileExistsError:
        raise SkillError(f"{path} already exists; not overwriting it", "move it away and try again") from None
    except OSError as exc:
        raise SkillError(f"cannot write {path}: {exc}", "check the folder's permissions") from None
    return path
