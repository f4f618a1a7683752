"""The embedder's transformer run by ONNX Runtime, so routing needs torch only to build.

A routed message is one short text (about ten tokens). For that, torch spends most of its
forward pass on per-operator overhead: MiniLM took about 21 ms on this project's 2-core
machine, ONNX Runtime about 5 ms for the same numbers (largest difference 2e-6). Batches
run about as fast as in torch. And a process that never imports torch is about 200 MB
smaller and starts its router in about a second instead of nine.

So the model is exported once from the loaded torch module (safetensors weights, no code
from the model folder) into the cache, with the vectors torch gave for a few probe texts.
Later starts load the export with the ``tokenizers`` library and ONNX Runtime only, and
check it against the stored probe vectors; a file that fails to load or disagrees is
exported again (that needs torch), and if that fails too the embedder keeps using torch.
If ONNX Runtime is missing or fails, routing works as before in torch, only slower.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.router.cache import prune_old, write_cache_file
from assistant.router.vectors import embed_by_length, l2_normalise, mean_pool

log = logging.getLogger(__name__)

EXPORT_VERSION = "onnx-2"
OPSET = 17
# Largest allowed difference between ONNX Runtime's and torch's probe vectors (unit length);
# a faithful export differs by about 1e-7.
TOLERANCE = 1e-3
PROBES = ("what is 15% of 240?", "Translate 'good morning' into French, please.", "ok")
# Older exports of other models or examples; the newest few are kept (each is about 90 MB).
KEEP_FILES = 3
BATCH = 64


def available() -> bool:
    """Whether ONNX Runtime and the exporter's ``onnx`` package are importable."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def torch_version() -> str:
    """The installed torch's version, without importing it (part of an export's key)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


class Tokens:
    """The model folder's ``tokenizer.json`` through the ``tokenizers`` library (no torch).

    The same file and rules transformers' fast tokenizer uses: truncation to ``max_length``
    tokens, batches padded to their longest text.
    """

    def __init__(self, model_dir: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self._tok.enable_truncation(max_length)
        self._tok.no_padding()
        pad = self._tok.token_to_id("[PAD]")
        self._tok.enable_padding(pad_id=pad if pad is not None else 0, pad_token="[PAD]")

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, both int64 of shape ``(len(texts), tokens)``."""
        encs = self._tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        return ids, mask


class OnnxEncoder:
    """Unit-length mean-pooled vectors from an ONNX Runtime session (thread-safe)."""

    def __init__(self, session, tokens: Tokens, path: Path) -> None:
        self._session = session
        self._tokens = tokens
        self.path = path

    def _pooled(self, texts: list[str]) -> np.ndarray:
        ids, mask = self._tokens(texts)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1.0)

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dim)`` unit vectors (``texts`` not empty); length-sorted batches."""
        return embed_by_length(list(texts), self._pooled, BATCH)


def _export(model, path: Path) -> None:
    """Write ``model`` (a transformers encoder) as ONNX to ``path``, atomically."""
    import torch

    class _States(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.ones((1, 6), dtype=torch.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _States(model).eval(), (ids, torch.ones_like(ids)), tmp,
                input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in ("input_ids", "attention_mask", "hidden")},
                opset_version=OPSET, dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Idle pool threads would otherwise spin after each query and take CPU from model decoding.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _torch_vectors(model, tokens: Tokens) -> np.ndarray:
    """What torch gives for :data:`PROBES`, pooled and normalised as the encoder does."""
    import torch

    rows = []
    for text in PROBES:
        ids, mask = (torch.from_numpy(a) for a in tokens([text]))
        with torch.inference_mode():
            rows.append(mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask).numpy())
    return l2_normalise(np.concatenate(rows))


def _probe_file(path: Path) -> Path:
    return path.with_suffix(".probes.npy")


def _open_checked(path: Path, threads: int, tokens: Tokens, expected: np.ndarray) -> OnnxEncoder | None:
    """A session on ``path`` whose probe vectors match ``expected``, or None (logged)."""
    encoder = OnnxEncoder(_session(path, threads), tokens, path)
    worst = float(np.abs(encoder.encode(list(PROBES)) - expected).max())
    if worst <= TOLERANCE:
        return encoder
    log.warning("ONNX copy of the embedder at %s differs from torch by %.2g", path, worst)
    return None


def load_cached(path: Path, threads: int, model_dir: Path, max_length: int) -> OnnxEncoder | None:
    """The export at ``path`` if it exists, loads and matches its stored probes (no torch).

    An export that fails that check is deleted, so the next look is a cheap miss.
    """
    path = Path(path)
    if not available() or not path.is_file() or not _probe_file(path).is_file():
        return None
    try:
        expected = np.load(_probe_file(path), allow_pickle=False)
        encoder = _open_checked(path, threads, Tokens(model_dir, max_length), expected)
    except Exception as exc:  # noqa: BLE001 - a damaged file: the caller exports again
        log.info("cached ONNX export %s unusable (%s: %s)", path, type(exc).__name__, exc)
        encoder = None
    if encoder is not None:
        _mark_used(path)
    else:
        _discard(path)
    return encoder


def _discard(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        _probe_file(path).unlink(missing_ok=True)
    except OSError:
        pass


def _mark_used(path: Path) -> None:
    """Record that ``path`` is in use (its time) and prune the oldest other exports."""
    try:
        os.utime(path)  # recently used: kept by the pruning
    except OSError:
        pass
    prune_old(path.parent, "*.onnx", path, KEEP_FILES, _probe_file)


def load_or_export(path: Path, threads: int, model_dir: Path, max_length: int,
                   torch_model: Callable[[], object]) -> OnnxEncoder | None:
    """An ONNX Runtime copy of a model stored at ``path``, or None when it can't be had.

    Reuses ``path`` when it loads and matches its stored probe vectors; otherwise calls
    ``torch_model()`` for the torch module, exports it and checks the export against it.
    The caller must keep other threads off that module while this runs.
    """
    if not available():
        log.info("onnxruntime or onnx not installed; the embedder uses torch")
        return None
    path = Path(path)
    cached = load_cached(path, threads, model_dir, max_length)
    if cached is not None:
        return cached
    try:
        model = torch_model()
        tokens = Tokens(model_dir, max_length)
        expected = _torch_vectors(model, tokens)
        _export(model, path)
        encoder = _open_checked(path, threads, tokens, expected)
        if encoder is not None:
            # Without its probes (a full disk) the export is simply made again next time.
            write_cache_file(_probe_file(path), lambda fh: np.save(fh, expected, allow_pickle=False))
            _mark_used(path)
            return encoder
    except Exception as exc:  # noqa: BLE001 - any failure here only costs speed
        log.warning("ONNX fast path unavailable (%s: %s)", type(exc).__name__, exc)
    _discard(path)
    log.warning("the embedder uses torch (slower) for now; the next start tries the ONNX export again")
    return None
