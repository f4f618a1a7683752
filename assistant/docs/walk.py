"""A collection's files, without ever leaving its folder.

Only the folder the user added is read. Hidden files and folders (``.git``, ``.venv``) are
not walked. Symbolic links are never followed: one pointing outside the folder is listed as
skipped for that reason, one pointing inside as skipped because its target is indexed under
its own name. Files are opened with ``O_NOFOLLOW``, so a file swapped for a link after the
walk is refused rather than followed.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from assistant.docs.document import Skip
from assistant.docs.readers import file_kind

MAX_FILE_BYTES = 25_000_000
MAX_FILES = 100_000
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass(frozen=True)
class Entry:
    """One file found in a collection.

    Attributes:
        rel: its path relative to the collection folder (POSIX separators).
        real: where to read it (the resolved path, inside the folder).
        size: bytes.
        mtime_ns: modification time.
        skip: why it will not be indexed, or None.
    """

    rel: str
    real: Path
    size: int = 0
    mtime_ns: int = 0
    skip: str | None = None


def matches(rel: str, globs: list[str]) -> bool:
    """No globs: every supported file. Otherwise any glob matching the relative path or the
    file name (``*.md``, ``notes/**/*.txt``)."""
    if not globs:
        return True
    name = rel.rsplit("/", 1)[-1]
    pure = PurePosixPath(rel)
    for g in globs:
        if fnmatch.fnmatch(name, g) or fnmatch.fnmatch(rel, g) or pure.match(g):
            return True
        if g.startswith("**/") and fnmatch.fnmatch(rel, g[3:]):
            return True
    return False


def inside(path: Path, root: Path) -> bool:
    """``path`` is ``root`` or below it (both already resolved)."""
    return path == root or root in path.parents


def walk(root: Path, globs: list[str] | None = None, max_bytes: int = MAX_FILE_BYTES) -> Iterator[Entry]:
    """Every file under ``root`` that ``globs`` select, sorted by path, with a skip reason
    for those that will not be read. ``root`` must be the resolved folder."""
    globs = list(globs or [])
    count = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            rel = _rel(Path(folder), root) or "."
            yield Entry(rel, Path(folder), skip=f"folder cannot be read: {exc.strerror or exc}")
            continue
        subfolders = []
        for e in entries:
            if e.name.startswith("."):
                continue
            rel = _rel(Path(e.path), root)
            item: Entry | None
            try:
                if e.is_dir(follow_symlinks=False):
                    subfolders.append(Path(e.path))
                    continue
                if e.is_symlink():
                    item = _link(Path(e.path), rel, root)
                else:
                    item = _plain(Path(e.path), rel, e.stat(follow_symlinks=False))
            except OSError as exc:
                item = Entry(rel, Path(e.path), skip=f"cannot be read: {exc.strerror or exc}")
            if item is None or not matches(rel, globs):
                continue
            if item.skip is None and item.size > max_bytes:
                item = Entry(item.rel, item.real, item.size, item.mtime_ns,
                             f"larger than the limit ({item.size:,} > {max_bytes:,} bytes)")
            count += 1
            if count > MAX_FILES:
                yield Entry(rel, Path(e.path), skip=f"the collection has more than {MAX_FILES:,} files; the rest are left out")
                return
            yield item
        stack.extend(reversed(subfolders))


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else ""


def _plain(path: Path, rel: str, st: os.stat_result) -> Entry | None:
    if not stat.S_ISREG(st.st_mode):
        return None  # sockets, fifos, devices: not documents
    skip = None if file_kind(path.name) else "unsupported file type"
    return Entry(rel, path, st.st_size, st.st_mtime_ns, skip)


def _link(path: Path, rel: str, root: Path) -> Entry:
    """A link is never read: its target is either outside (not ours to read) or inside,
    where the walk finds it under its own name."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return Entry(rel, path, skip="broken symbolic link")
    if not inside(target, root):
        return Entry(rel, path, skip="symbolic link to outside the collection (not followed)")
    return Entry(rel, path, skip="symbolic link inside the collection (its target is indexed under its own name)")


def read_bytes(entry: Entry, root: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The file's content, read without following a link and never past ``max_bytes``.

    Raises:
        Skip: it moved outside the folder, became a link or a non-file, grew past the limit,
            or cannot be read.
    """
    real = entry.real
    if not inside(real.parent.resolve(), root):
        raise Skip("outside the collection (not read)")
    try:
        fd = os.open(real, os.O_RDONLY | _NOFOLLOW)
    except OSError as exc:
        raise Skip(f"cannot be read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Skip("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise Skip(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Skip(f"larger than the limit ({max_bytes:,} bytes)")
    return data
