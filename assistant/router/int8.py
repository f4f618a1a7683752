"""An int8 copy of the router's ONNX embedder, for faster single-query routing.

One routed message is one short text, and for it the float export spends most of its time in
the weight matrix products. ONNX Runtime's dynamic quantization stores those weights as int8
(per output channel) and quantizes each activation tensor on the fly, which cuts the time of
one query by half or more on this project's 2-core machine (see ``benchmarks/router_latency.py``).

Dynamic quantization picks an activation's scale from the whole tensor it sees, so a text's
vector would depend on the other texts in its batch. Here every text is embedded alone, so a
text always gets the same vector: the cached example vectors and a query that repeats one agree
exactly. Batches are spread over threads instead (ONNX Runtime lets several threads run one
session at once), each run on one intra-op thread, which is also the fastest setting for a single
short query.

The copy is made once from the float export, stored next to it, and checked against it on
:data:`PROBES` (cosine of each probe's vectors at least :data:`MIN_COSINE`); a copy that fails
that, or any error on the way, leaves the router on the float export. Only the router's own
embedder is quantized: memory recall and documents keep the float vectors they stored.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from assistant.router.cache import prune_old
from assistant.router.embedders import Embedder
from assistant.router.onnx_path import PROBES, OnnxEncoder, Tokens, _session
from assistant.router.vectors import l2_normalise

log = logging.getLogger(__name__)

INT8_VERSION = "int8-1"
# Lowest allowed cosine between a probe's int8 and float vectors; a faithful copy gives about
# 0.99 (measured on 300 CLINC150 test requests: median 0.994, lowest 0.984).
MIN_COSINE = 0.97
KEEP_FILES = 3  # int8 copies kept (about 23 MB each), newest first


class Int8Encoder:
    """Unit vectors from an int8 session, one text per run (see the module docstring)."""

    def __init__(self, session, tokens: Tokens, path: Path, threads: int) -> None:
        self._session = session
        self._tokens = tokens
        self.path = path
        self._threads = max(1, threads)
        self._pool: ThreadPoolExecutor | None = None

    def _one(self, text: str) -> np.ndarray:
        ids, mask = self._tokens([text])
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]
        return hidden.mean(axis=0)  # one text, no padding: every token counts

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dim)`` unit vectors; each text embedded on its own."""
        if len(texts) <= 2 or self._threads == 1:
            rows = [self._one(t) for t in texts]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="router-int8")
            rows = list(self._pool.map(self._one, texts))
        return l2_normalise(np.stack(rows))


class Int8Embedder:
    """The router's embedder with its ONNX export swapped for the int8 copy.

    Named after the embedder it copies plus ``+int8-1``, so its vectors are cached apart.
    """

    def __init__(self, inner: Embedder, encoder: Int8Encoder) -> None:
        self.inner = inner
        self.onnx = encoder
        self.name = f"{inner.name}+{INT8_VERSION}"
        self.dim = inner.dim
        self.related_similarity = getattr(inner, "related_similarity", 0.35)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.onnx.encode(list(texts))


class _DropOnnxRuntimeAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


def _quantize(src: Path, dst: Path) -> None:
    """Write the int8 copy of ``src`` to ``dst``, atomically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, suffix=".onnx.tmp")
    os.close(fd)
    # The quantizer logs advice on the root logger, which would land in the user's terminal.
    quiet = _DropOnnxRuntimeAdvice()
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(str(src), tmp, weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, dst)
    finally:
        logging.getLogger().removeFilter(quiet)
        Path(tmp).unlink(missing_ok=True)


def int8_path(float_path: Path) -> Path:
    """Where the int8 copy of the export at ``float_path`` is kept."""
    return float_path.parent / "int8" / f"{float_path.stem}.{INT8_VERSION}.onnx"


def _open_checked(path: Path, tokens: Tokens, expected: np.ndarray, threads: int) -> Int8Encoder | None:
    """The int8 copy at ``path`` if it loads and its probe vectors match ``expected``."""
    try:
        copy = Int8Encoder(_session(path, 1), tokens, path, threads)
        worst = float((copy.encode(list(PROBES)) * expected).sum(axis=1).min())
    except Exception as exc:  # noqa: BLE001 - a damaged file: made again
        log.info("int8 copy %s unusable (%s: %s)", path, type(exc).__name__, exc)
        return None
    if worst < MIN_COSINE:
        log.info("int8 copy %s: lowest probe cosine %.4f, below %.2f", path, worst, MIN_COSINE)
        return None
    return copy


def quantized(encoder: OnnxEncoder, threads: int) -> Int8Encoder | None:
    """An int8 copy of ``encoder``'s export that agrees with it on the probes, or None (logged)."""
    if importlib.util.find_spec("onnxruntime.quantization") is None:
        log.info("onnxruntime.quantization is not available; routing stays on the float export")
        return None
    path = int8_path(encoder.path)
    expected = encoder.encode(list(PROBES))
    copy = _open_checked(path, encoder._tokens, expected, threads) if path.is_file() else None
    if copy is None:
        try:
            _quantize(encoder.path, path)
        except Exception as exc:  # noqa: BLE001 - any failure here only costs speed
            log.warning("no int8 copy of the router embedder (%s: %s); routing stays on the float export",
                        type(exc).__name__, exc)
            return None
        copy = _open_checked(path, encoder._tokens, expected, threads)
    if copy is None:
        path.unlink(missing_ok=True)
        log.warning("routing stays on the float ONNX export (its int8 copy did not match it)")
        return None
    try:
        os.utime(path)  # recently used: kept by the pruning
    except OSError:
        pass
    prune_old(path.parent, "*.onnx", path, KEEP_FILES)
    return copy


def int8_embedder(embedder: Embedder, threads: int) -> Embedder:
    """``embedder`` on an int8 copy of its ONNX export, or ``embedder`` itself when it has none."""
    encoder = getattr(embedder, "onnx", None)
    if not isinstance(encoder, OnnxEncoder):
        return embedder
    copy = quantized(encoder, threads)
    return embedder if copy is None else Int8Embedder(embedder, copy)
