"""On-disk cache of example embeddings, keyed by content hash and embedder name.

One ``.npy`` file per (embedder, route examples) so a restart re-embeds only the skills whose
examples changed. Files are written atomically and read with ``allow_pickle=False``; a
corrupt or mismatched file is treated as a miss and rewritten, never trusted.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

# Bump when the way vectors are produced changes, so old caches are ignored.
CACHE_VERSION = "1"


def write_cache_file(path: Path, write: Callable[[BinaryIO], object]) -> bool:
    """Write a cache file atomically (temp file + rename); False when the disk refused.

    A cache write is best effort: a read-only or full disk only costs a recompute later.
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False


def prune_old(folder: Path, pattern: str, keep: Path, newest: int,
              companion: Callable[[Path], Path] | None = None) -> None:
    """Delete all but the ``newest`` files matching ``pattern`` in ``folder`` (never ``keep``).

    Files keyed by content pile up as examples change (a correction makes a new key);
    ``companion`` names a file that goes with each one and is deleted with it.
    """
    try:
        files = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[newest:]:
            if old != keep:
                old.unlink(missing_ok=True)
                if companion is not None:
                    companion(old).unlink(missing_ok=True)
    except OSError:
        pass  # best effort: a file another process removed first, a read-only disk


def content_hash(*parts: str) -> str:
    """A stable sha256 over ``parts`` (each separated so ("ab", "c") != ("a", "bc"))."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "embedder"


class EmbeddingCache:
    """Embeddings of text lists, stored under ``root / <embedder name>``.

    Args:
        root: the cache folder (``settings.cache_dir / "router"``); ``None`` disables caching.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0

    def _file(self, embedder_name: str, key: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / _safe(embedder_name) / f"{key}.npy"

    def get_or_compute(
        self, embedder_name: str, dim: int, texts: list[str], compute: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        """The embeddings of ``texts``, from disk when the same texts were embedded before."""
        key = content_hash(CACHE_VERSION, embedder_name, str(dim), *texts)
        path = self._file(embedder_name, key)
        if path is not None and path.is_file():
            try:
                arr = np.load(path, allow_pickle=False)
                if arr.shape == (len(texts), dim) and arr.dtype == np.float32:
                    self.hits += 1
                    return arr
            except (OSError, ValueError):
                pass  # a torn or foreign file: recompute and overwrite it
        self.misses += 1
        arr = np.asarray(compute(texts), dtype=np.float32).reshape(len(texts), dim)
        if path is not None:
            self._write(path, arr)
        return arr

    def _write(self, path: Path, arr: np.ndarray) -> None:
        write_cache_file(path, lambda fh: np.save(fh, arr, allow_pickle=False))
