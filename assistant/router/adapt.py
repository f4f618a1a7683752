"""Few-shot adaptation: fine-tune the embedder's top layers on the routes' own examples.

A frozen sentence embedder blurs intents that only a few words tell apart, and with ten or
twenty examples per skill a classifier over frozen vectors cannot learn those words well.
Here a copy of MiniLM's top :data:`TUNED_LAYERS` transformer layers is trained to pull each
route's examples towards a learned prototype of that route (cosine softmax, cross-entropy),
then every example, validation request and query is embedded with it. The lower layers, the
tokenizer and the weights on disk are shared with the base model and never change, so the
base embedder (used by memory recall) keeps giving the same vectors.

Training is bounded (:data:`EPOCHS` passes, at most :data:`MAX_STEPS` batches), seeded, and
runs once per set of examples: the tuned layers are saved as safetensors in the cache,
keyed by the examples, and loaded on the next start.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, TypeVar

import numpy as np

from assistant.router.cache import content_hash, prune_old, write_cache_file
from assistant.router.onnx_path import OnnxEncoder, load_cached, load_or_export
from assistant.router.vectors import embed_by_length, mean_pool

log = logging.getLogger(__name__)

ADAPT_VERSION = "adapt-1"
TUNED_LAYERS = 2
EPOCHS = 3
MAX_STEPS = 150  # about 80 s on 2 cores; a large training set gets part of an epoch
BATCH = 32
LEARNING_RATE = 1e-4
SCALE = 20.0  # cosine-softmax temperature
MAX_TOKENS = 64
MIN_CLASSES = 2
KEEP_TUNED = 5  # tuned layer files kept in the cache (about 14 MB each), newest first
Progress = Callable[[int, int], None]


class TunableBase(Protocol):
    """What tuning needs of the base embedder (``embedders.MiniLMEmbedder`` is one).

    Its torch state is set by ``load_torch()``: ``_torch`` the module, ``_first`` the
    sentence-transformers module holding ``tokenizer`` and ``auto_model``, and the thread
    counts ``_threads(n)`` switches between; ``_lock`` keeps other threads off the model.
    """

    name: str
    dim: int
    related_similarity: float
    path: Path
    onnx: OnnxEncoder | None
    onnx_dir: Path | None
    _lock: threading.Lock
    _torch: Any
    _first: Any
    _query_threads: int
    _batch_threads: int

    @property
    def onnx_threads(self) -> int: ...

    def load_torch(self) -> None: ...

    def _threads(self, n: int) -> None: ...


def _share_lower_layers(model, n: int):
    """A view of ``model`` whose top ``n`` encoder layers are private copies.

    Everything else (embeddings, lower layers, pooler, config) is the same module objects,
    so no weights are duplicated except the copied layers.
    """
    import torch

    view = copy.copy(model)
    view._modules = OrderedDict(model._modules)
    encoder = copy.copy(model.encoder)
    encoder._modules = OrderedDict(model.encoder._modules)
    layers = list(model.encoder.layer)
    tuned = torch.nn.ModuleList(copy.deepcopy(layer) for layer in layers[-n:])
    encoder._modules["layer"] = torch.nn.ModuleList(layers[:-n] + list(tuned))
    view._modules["encoder"] = encoder
    return view, tuned


class AdaptedEmbedder:
    """The base MiniLM with its top layers tuned for one set of routes.

    Built by :func:`adapt`; ``encode`` gives L2-normalised mean-pooled vectors like the base.
    """

    def __init__(self, base: TunableBase, model, tuned, key: str, onnx: OnnxEncoder | None = None) -> None:
        self.base = base
        self.name = f"{base.name}+tuned-{key[:16]}"
        self.dim = base.dim
        self.related_similarity = base.related_similarity
        self.key = key
        self._model = model
        self._tuned = tuned
        # An OnnxEncoder when the base has one; then ``model`` and ``tuned`` may be None
        # (loaded from the cache without torch).
        self.onnx = onnx

    def _forward(self, texts: list[str], grad: bool = False):
        torch = self.base._torch
        tok = self.base._first.tokenizer
        batch = tok(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        ctx = torch.enable_grad() if grad else torch.inference_mode()
        with ctx:
            return mean_pool(self._model(**batch).last_hidden_state, batch["attention_mask"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` with the tuned layers; ``(len(texts), dim)`` unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.onnx is not None:  # thread-safe session: no lock
            return self.onnx.encode(texts)
        with self.base._lock:
            self.base._threads(self.base._query_threads if len(texts) == 1 else self.base._batch_threads)
            return embed_by_length(texts, lambda part: self._forward(part).numpy())


_Base = TypeVar("_Base", bound=TunableBase)


def adapt(base: _Base, texts: Sequence[str], labels: Sequence[int], x: np.ndarray,
          cache_dir: Path | None, progress: Progress | None = None) -> AdaptedEmbedder | _Base:
    """Tune ``base``'s top layers on ``texts`` labelled ``labels`` (``x``: their base vectors).

    Returns the base embedder unchanged when there is nothing to learn (fewer than two
    labels). Saved tuned layers in ``cache_dir`` are reused when the examples are the same.
    """
    label_ids = np.asarray(labels, dtype=np.int64)
    classes = np.unique(label_ids)
    if len(classes) < MIN_CLASSES or len(texts) < MIN_CLASSES:
        return base
    key = content_hash(ADAPT_VERSION, base.name, str(TUNED_LAYERS), *(f"{y}\t{t}" for t, y in zip(texts, label_ids, strict=False)))
    onnx_file = None
    if base.onnx is not None and base.onnx_dir is not None:
        # Keyed by the tuned layers and the base's own export, so a new base model exports again.
        onnx_file = base.onnx_dir / "tuned" / f"{content_hash(key, base.onnx.path.stem)}.onnx"
        cached = load_cached(onnx_file, base.onnx_threads, base.path, MAX_TOKENS)
        if cached is not None:  # no torch needed at all
            return AdaptedEmbedder(base, None, None, key, onnx=cached)
    with base._lock:
        base.load_torch()
    path = None if cache_dir is None else Path(cache_dir) / "tuned" / f"{key}.safetensors"
    model, tuned = _share_lower_layers(base._first.auto_model, TUNED_LAYERS)
    for p in base._first.auto_model.parameters():
        p.requires_grad_(False)
    model.eval()
    if path is not None and path.is_file():
        try:
            from safetensors.torch import load_file

            tuned.load_state_dict(load_file(str(path)))
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: train again
            log.info("tuned router layers at %s unreadable (%s); training again", path, exc)
        else:
            with contextlib.suppress(OSError):
                path.touch()  # recently used: kept by the pruning below
            return _with_onnx(AdaptedEmbedder(base, model, tuned, key), onnx_file)
    embedder = AdaptedEmbedder(base, model, tuned, key)
    _train(embedder, list(texts), label_ids, x, progress)
    tuned.eval()
    if path is not None:
        from safetensors.torch import save

        data = save({k: v.contiguous() for k, v in tuned.state_dict().items()})
        if write_cache_file(path, lambda fh: fh.write(data)):
            prune_old(path.parent, "*.safetensors", path, KEEP_TUNED)
        else:
            log.info("could not save tuned router layers to %s", path)
    return _with_onnx(embedder, onnx_file)


def _with_onnx(emb: AdaptedEmbedder, path: Path | None) -> AdaptedEmbedder:
    """Give ``emb`` an ONNX Runtime copy stored at ``path`` (None: the base has none)."""
    if path is None:
        return emb
    base = emb.base
    with base._lock:
        emb.onnx = load_or_export(path, base.onnx_threads, base.path, MAX_TOKENS, lambda: emb._model)
    return emb


def _train(emb: AdaptedEmbedder, texts: list[str], labels: np.ndarray, x: np.ndarray,
           progress: Progress | None) -> None:
    import torch
    import torch.nn.functional as F

    index = {c: i for i, c in enumerate(np.unique(labels))}
    y = torch.tensor([index[c] for c in labels])
    # Prototypes start at each class's mean base vector, so training starts from a sensible head.
    proto = np.stack([x[labels == c].mean(0) for c in index])
    weights = torch.nn.Parameter(F.normalize(torch.tensor(proto, dtype=torch.float32), dim=-1))
    for p in emb._tuned.parameters():
        p.requires_grad_(True)
    params = list(emb._tuned.parameters()) + [weights]
    opt = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    steps_per_epoch = (len(texts) + BATCH - 1) // BATCH
    total = min(MAX_STEPS, EPOCHS * steps_per_epoch)
    step = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        emb._tuned.train()
        while step < total:
            perm = torch.randperm(len(texts), generator=gen)
            for start in range(0, len(texts), BATCH):
                if step >= total:
                    break
                idx = perm[start : start + BATCH]
                with emb.base._lock:
                    emb.base._threads(emb.base._batch_threads)
                    v = F.normalize(emb._forward([texts[i] for i in idx], grad=True), dim=-1)
                    logits = SCALE * v @ F.normalize(weights, dim=-1).T
                    loss = F.cross_entropy(logits, y[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                step += 1
                if progress:
                    progress(step, total)
    for p in emb._tuned.parameters():
        p.requires_grad_(False)
    log.info("router layers tuned: %d steps, last loss %.3f", step, float(loss.detach()))

