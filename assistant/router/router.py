"""The embedding router: routes -> embeddings (cached) -> fitted head + threshold -> RouteChoice."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from assistant.errors import RouterError
from assistant.router import decide
from assistant.router.cache import EmbeddingCache, content_hash, write_cache_file
from assistant.router.calibration import (
    DEFAULT_KEEP_IN_SCOPE,
    PRIOR_THRESHOLD,
    Calibration,
    best_threshold,
    leave_routes_out,
)
from assistant.router.data import OOS_LABEL, Example
from assistant.router.embedders import Embedder
from assistant.router.head import Head, Negatives, fit_head
from assistant.router.instruction import instruction_of
from assistant.router.types import RouteChoice, RouteSpec

log = logging.getLogger(__name__)

HEAD_VERSION = "head-6"  # 2: TF-IDF word features; 3: blend weight 0.2; 4: per-skill negatives;
# 5: keep_in_scope; 6: keep_in_scope with 95 % confidence (the calibration is stored with the head)
REJECT = "__reject__"
CHUNK = 256
Progress = Callable[[int, int], None]


def _norm(text: str) -> str:
    return " ".join("".join(ch for ch in text.casefold() if ch.isalnum() or ch.isspace()).split())


_BLAS = None


def _one_blas_thread():
    """numpy's BLAS held to one thread while one query is scored.

    The products are tiny, and OpenBLAS's idle threads keep spinning for a while after each
    call; on 2 cores they then fight the next query's torch forward pass, which measured
    twice as slow (route p50 47.6 vs 23.9 ms on 10-per-intent CLINC150 with a busy-waiting
    BLAS pool). Costs about 25 microseconds.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _clean_routes(routes: Sequence[RouteSpec]) -> list[RouteSpec]:
    """Merge routes of the same name, drop blank and repeated texts, drop empty routes.

    A skill's negative that repeats its own example is dropped (it cannot be both). A
    fallback example that repeats any skill's example is dropped: it would make that
    skill's own request fall back. A negative that is another skill's example stays: it
    only pushes the request away from its own skill, towards the other one.
    """
    merged: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for r in routes:
        if not r.name or r.name == REJECT:
            raise RouterError(f"invalid route name {r.name!r}", "give every skill a non-empty name")
        ex, neg, fb = merged.setdefault(r.name, ([], [], []))
        ex.extend(t.strip() for t in r.examples if t and t.strip())
        neg.extend(t.strip() for t in r.negatives if t and t.strip())
        fb.extend(t.strip() for t in r.fallback_examples if t and t.strip())
    positives = {_norm(t) for ex, _neg, _fb in merged.values() for t in ex}
    out = []
    seen_fb: set[str] = set()
    orphans: list[str] = []
    for name, (ex, neg, fb) in merged.items():
        ex = list(dict.fromkeys(ex))
        own = {_norm(t) for t in ex}
        neg = [t for t in dict.fromkeys(neg) if _norm(t) not in own]
        fb = [t for t in dict.fromkeys(fb) if _norm(t) not in positives and t not in seen_fb]
        seen_fb.update(fb)
        if ex:
            out.append(RouteSpec(name, ex, neg, fb + orphans))
            orphans = []
        else:
            orphans.extend(fb)  # a route without examples still passes its fallback examples on
            log.info("route %s has no examples; it cannot be routed to", name)
    if orphans and out:
        last = out[-1]
        out[-1] = RouteSpec(last.name, last.examples, last.negatives, last.fallback_examples + orphans)
    return out


class Router:
    """Routes one request at a time to a skill, or falls back.

    Build it with :meth:`build`; it is immutable afterwards and safe to share between threads
    (the embedder serialises its own calls).
    """

    def __init__(self, head: Head, calibration: Calibration, embedder: Embedder, *,
                 fallback: str = "chat", followup_turns: int = 3, key: str = "",
                 base_embedder: Embedder | None = None) -> None:
        self.head = head
        self.calibration = calibration
        self.embedder = embedder
        # The embedder before adaptation to these routes: vectors that must not depend on
        # the installed skills (memory recall) come from it.
        self.base_embedder = base_embedder or embedder
        self.fallback = fallback
        self.followup_turns = followup_turns
        self.key = key

    # Building ------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        routes: Sequence[RouteSpec],
        embedder: Embedder,
        cache_dir: Path | None = None,
        *,
        val: Sequence[Example] | None = None,
        fallback: str = "chat",
        followup_turns: int = 3,
        progress: Progress | None = None,
        adapt: bool = False,
        tune_progress: Progress | None = None,
        keep_in_scope: float | None = DEFAULT_KEEP_IN_SCOPE,
        int8: bool = False,
    ) -> "Router":
        """Embed the routes' examples (from the cache when unchanged), fit head and threshold.

        Args:
            routes: one :class:`RouteSpec` per skill.
            embedder: the sentence embedder.
            cache_dir: where embeddings and fitted heads are cached; ``None``: no cache.
            val: labelled validation requests (``oos`` = out of scope) to fit the threshold
                on; without it the threshold comes from leave-routes-out cross-validation.
            fallback: the skill name meaning "fall back" (for follow-ups of a fallback turn).
            followup_turns: recent user turns considered for follow-ups.
            progress: called with (texts embedded, total) while embedding.
            adapt: tune the embedder's top layers on the routes' examples first, when the
                embedder can be tuned (see :mod:`assistant.router.adapt`).
            tune_progress: called with (steps done, total) while tuning.
            keep_in_scope: without ``val``, the threshold keeps at least this share of the
                requests cross-validation routes right (None: accuracy + recall alone).
            int8: route on an int8 copy of the embedder's ONNX export when it has one
                (:mod:`assistant.router.int8`); the base embedder is left as it is.
        """
        routes = _clean_routes(routes)
        cache = EmbeddingCache(cache_dir)
        # Examples, and the global reject set (fallback examples) as one more class. Skills'
        # negatives are no class: they only lower their own skill's score (see head.py).
        chunks: list[tuple[str, list[str]]] = []
        for r in routes:
            chunks.append((r.name, r.examples))
            if r.fallback_examples:
                chunks.append((REJECT, r.fallback_examples))
        negs = [(r.name, r.negatives) for r in routes if r.negatives]
        val_texts = [e.text for e in val] if val else []
        n_neg = sum(len(t) for _, t in negs)
        classes = [r.name for r in routes]
        has_reject = any(name == REJECT for name, _ in chunks)
        if has_reject:
            classes.append(REJECT)
        index = {c: i for i, c in enumerate(classes)}
        base = embedder
        x, y, all_texts, keys = _embed_chunks(chunks, index, embedder, cache, n_neg + len(val_texts), progress)
        if has_reject:
            x, y, all_texts = _drop_conflicting_negatives(x, y, all_texts, index[REJECT])
        if adapt and hasattr(embedder, "adapt") and len(set(y.tolist())) >= 2:
            # Negatives are left out of the tuning: as a class of their own they would be
            # pulled away from every skill, including the one they belong to.
            embedder = embedder.adapt(all_texts, y, x, cache_dir, tune_progress)
        if int8:
            from assistant.router.int8 import int8_embedder

            embedder = int8_embedder(embedder, getattr(base, "onnx_threads", 1))
        if embedder is not base:
            kept = set(all_texts)
            x, y, all_texts, keys = _embed_chunks(
                [(n, [t for t in ts if t in kept] if n == REJECT else ts) for n, ts in chunks],
                index, embedder, cache, n_neg + len(val_texts), progress)
        n = len(all_texts)
        total = n + n_neg + len(val_texts)
        negatives = _embed_negatives(negs, index, embedder, cache, progress, n, total)
        neg_keys = [content_hash("negatives", name, *texts) for name, texts in negs]
        val_x = (_embed_texts(val_texts, embedder, cache, progress, n + n_neg, total)
                 if val_texts else None)
        key = content_hash(HEAD_VERSION, embedder.name, f"keep={keep_in_scope}", *keys, *neg_keys,
                           *(f"{e.label}\t{e.text}" for e in (val or [])))
        stored = _load_head(cache_dir, key)
        if stored is not None:
            head, calibration = stored
        else:
            head = fit_head(x, y, classes, all_texts, has_reject=has_reject, negatives=negatives)
            calibration = _calibrate(head, x, y, all_texts, classes, val, val_x, negatives, keep_in_scope)
            _save_head(cache_dir, key, head, calibration)
        return cls(head, calibration, embedder, fallback=fallback, followup_turns=followup_turns, key=key,
                   base_embedder=base)

    # Querying ------------------------------------------------------------------------
    @property
    def routes(self) -> list[str]:
        """The names of the routable skills."""
        return [c for c in self.head.classes if c != REJECT]

    @property
    def threshold(self) -> float:
        return self.calibration.threshold

    def score_vector(self, vec: np.ndarray, text: str) -> RouteChoice:
        """Decide for ``text``, already embedded as ``vec`` (no follow-up logic)."""
        with _one_blas_thread():
            return decide.choose(self.head, vec, text, self.calibration, REJECT)

    def route(self, text: str, history: Sequence[object] | None = None,
              previous_skill: str | None = None) -> RouteChoice:
        """Route ``text``; with ``previous_skill`` a short follow-up stays with it.

        Args:
            text: the user's message.
            history: the conversation so far (``ChatMessage`` objects, oldest first).
            previous_skill: the skill that answered the previous turn.
        """
        if not self.head.classes or not self.routes:
            return decide.no_routes(self.calibration.threshold)
        rules = decide.Followups(
            score=self._score_text, fallback=self.fallback, turns=self.followup_turns,
            confident=max(self.calibration.confident, self.calibration.threshold),
        )
        return decide.route_with_context(rules, text, history, previous_skill)

    def _score_text(self, text: str) -> RouteChoice:
        """Decide for ``text`` alone; a request that carries its own text is decided by its instruction.

        "summarize: <a long dialogue>" embeds mostly as the dialogue. When the text has an
        instruction part (:func:`instruction_of`) that clears the threshold on its own, that
        decides, unless the whole text repeats a known example or a saved correction.
        """
        whole = self.score_vector(self.embedder.encode([text])[0], text)
        instruction = instruction_of(text)
        if instruction is None or whole.known_example:
            return whole
        part = self.score_vector(self.embedder.encode([instruction])[0], instruction)
        if part.skill is None:
            return whole  # the instruction alone is unclear ("Note: ..."): the whole text decides
        said = instruction if len(instruction) <= 60 else instruction[:57] + "..."
        return replace(part, instruction=instruction,
                       reason=f"decided on the instruction '{said}' (the text after it is what it applies to): "
                              + part.reason)


def _embed_texts(texts: list[str], embedder: Embedder, cache: EmbeddingCache, progress: Progress | None,
                 done: int, total: int) -> np.ndarray:
    """Embed ``texts`` through the cache in chunks, reporting ``done + i`` of ``total``."""
    parts = []
    for i in range(0, len(texts), CHUNK):
        batch = texts[i : i + CHUNK]
        parts.append(cache.get_or_compute(embedder.name, embedder.dim, batch, embedder.encode))
        if progress:
            progress(done + i + len(batch), total)
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)


def _embed_chunks(chunks: list[tuple[str, list[str]]], index: dict[str, int], embedder: Embedder,
                  cache: EmbeddingCache, extra: int, progress: Progress | None):
    """Embed every chunk's texts (cached); returns (x, y, texts, content keys)."""
    total = sum(len(t) for _, t in chunks) + extra
    xs, ys, keys = [], [], []
    all_texts: list[str] = []
    for name, texts in chunks:
        xs.append(_embed_texts(texts, embedder, cache, progress, len(all_texts), total))
        all_texts.extend(texts)
        ys.append(np.full(len(texts), index[name]))
        keys.append(content_hash(name, *texts))
    x = np.concatenate(xs) if xs else np.zeros((0, embedder.dim), np.float32)
    y = np.concatenate(ys).astype(np.int64) if ys else np.zeros(0, np.int64)
    return x, y, all_texts, keys


def _embed_negatives(negs: list[tuple[str, list[str]]], index: dict[str, int], embedder: Embedder,
                     cache: EmbeddingCache, progress: Progress | None, done: int, total: int) -> Negatives:
    """The skills' negatives, embedded (cached), with the class index of the skill each belongs to."""
    texts = [t for _, ts in negs for t in ts]
    if not texts:
        return Negatives.empty(embedder.dim)
    x = _embed_texts(texts, embedder, cache, progress, done, total)
    owner = np.array([index[name] for name, ts in negs for _ in ts], dtype=np.int64)
    return Negatives(x, owner, texts)


def _calibrate(head: Head, x: np.ndarray, y: np.ndarray, texts: list[str], classes: list[str],
               val: Sequence[Example] | None, val_x: np.ndarray | None,
               negatives: Negatives | None = None, keep: float | None = DEFAULT_KEEP_IN_SCOPE) -> Calibration:
    reject = classes.index(REJECT) if REJECT in classes else None
    n_routes = len(classes) - (1 if reject is not None else 0)
    if val and val_x is not None and len(val_x):
        scores = head.scores(val_x, [e.text for e in val])
        win, top = scores.argmax(axis=1), scores.max(axis=1)
        if reject is not None:
            top[win == reject] = -1.0
        truth = np.array([classes.index(e.label) if e.label in classes and e.label != OOS_LABEL else -1 for e in val])
        ins = truth >= 0
        return best_threshold(top[ins], win[ins] == truth[ins], top[~ins], "validation set")
    if n_routes >= 2:
        in_s, in_ok, oos_s = leave_routes_out(x, y, classes, texts, reject=reject, negatives=negatives)
        return best_threshold(in_s, in_ok, oos_s, "leave-routes-out cross-validation", keep=keep)
    return Calibration(PRIOR_THRESHOLD, "prior (fewer than two routes to cross-validate)")


def _drop_conflicting_negatives(x: np.ndarray, y: np.ndarray, texts: list[str], reject: int, limit: float = 0.9):
    """Drop fallback examples that are near-paraphrases of some skill's own examples.

    They form one reject class, so one close to a skill's example would make that skill's
    requests fall back.
    """
    neg, pos = y == reject, y != reject
    if not neg.any() or not pos.any():
        return x, y, texts
    closest = (x[neg] @ x[pos].T).max(axis=1)
    keep = np.ones(len(y), dtype=bool)
    keep[np.flatnonzero(neg)[closest >= limit]] = False
    return x[keep], y[keep], [t for t, k in zip(texts, keep, strict=False) if k]


def _head_file(cache_dir: Path | None, key: str) -> Path | None:
    return None if cache_dir is None else cache_dir / "heads" / f"{key}.npz"


def _load_head(cache_dir: Path | None, key: str) -> tuple[Head, Calibration] | None:
    path = _head_file(cache_dir, key)
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        cal = json.loads(str(arrays.pop("calibration")[0]))
        return Head.from_arrays(arrays), Calibration.from_dict(cal)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # corrupt or from another version: refit


def _save_head(cache_dir: Path | None, key: str, head: Head, cal: Calibration) -> None:
    path = _head_file(cache_dir, key)
    if path is not None:
        arrays = {"calibration": np.array([json.dumps(cal.as_dict())]), **head.to_arrays()}
        write_cache_file(path, lambda fh: np.savez(fh, allow_pickle=False, **arrays))  # no object arrays: never a pickle
