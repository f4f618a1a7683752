"""Word (TF-IDF) features in the router head, and the head's storage round trip."""

from __future__ import annotations

import zlib

import numpy as np

from assistant.router.embedders import FakeEmbedder
from assistant.router.head import Head, fit_head
from assistant.router.lexical import Lexicon, terms
from assistant.router.router import Router
from assistant.router.types import RouteSpec


class NoiseEmbedder:
    """A shared direction plus per-text random noise: the vectors carry no meaning, so only
    word features can tell routes apart (and no two texts look like the same example)."""

    name = "noise"
    dim = 64

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            rng = np.random.default_rng(zlib.crc32(text.encode()))  # the same in every process
            v = np.concatenate([[3.0], rng.normal(size=self.dim - 1) / np.sqrt(self.dim - 1)])
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)


def test_terms_are_words_and_adjacent_pairs():
    assert terms("Check my Balance, a b now") == ["check", "my", "balance", "now", "check my", "my balance",
                                                  "balance now"]


def test_row_is_unit_length_and_ignores_unknown_words():
    lex = Lexicon.fit(["check my balance", "show my transactions", "balance of savings"])
    cols, vals = lex.row("my balance balance zzz")
    assert len(cols) == 3  # my, balance, "my balance"; "zzz" and pairs with it are unknown
    assert abs(float(np.linalg.norm(vals)) - 1.0) < 1e-6
    assert len(lex.row("qqq www")[0]) == 0
    dense = lex.matrix(["my balance balance zzz"]).toarray()[0]
    assert np.allclose(dense[cols], vals)


def test_word_features_separate_routes_the_embedding_cannot():
    routes = [
        RouteSpec("balance", ["check my balance", "what is my balance", "balance on my account",
                              "how much balance is left"]),
        RouteSpec("transactions", ["show my transactions", "list recent transactions", "transactions this week",
                                   "which transactions did i make"]),
    ]
    router = Router.build(routes, NoiseEmbedder(), None)
    assert router.route("tell me my balance").best == "balance"
    assert router.route("my last transactions").best == "transactions"


def test_head_round_trips_through_plain_arrays():
    emb = FakeEmbedder()
    texts = ["set a timer", "start the timer", "weather today", "rain tomorrow", "timer for tea"]
    y = np.array([0, 0, 1, 1, 0])
    head = fit_head(emb.encode(texts), y, ["timer", "weather"], texts)
    arrays = head.to_arrays()
    assert all(a.dtype != object for a in arrays.values())  # np.savez without pickle
    again = Head.from_arrays(arrays)
    queries = ["a timer please", "is it going to rain"]
    assert np.allclose(head.scores(emb.encode(queries), queries), again.scores(emb.encode(queries), queries))


def _many_routes_head():
    emb = FakeEmbedder()
    topics = ["weather rain", "timer minutes", "translate french", "music song", "alarm wake",
              "recipe cook", "flight airport", "bank balance"]
    texts, y = [], []
    for c, topic in enumerate(topics):
        for i in range(6):
            texts.append(f"{topic} request number {i} {topic.split()[i % 2]}")
            y.append(c)
    return emb, fit_head(emb.encode(texts), np.array(y), [t.split()[0] for t in topics], texts)


def test_single_query_scores_match_the_batch_scores():
    emb, head = _many_routes_head()
    for query in ["will it rain", "cook a recipe", "what is my bank balance"]:
        one, nearest_class, nearest_sim = head.score_one(emb.encode([query])[0], query)
        batch = head.scores(emb.encode([query]), [query])[0]
        assert np.allclose(one, batch, atol=1e-5)
        sims = head.examples @ emb.encode([query])[0]
        assert nearest_class == head.example_class[int(np.argmax(sims))]
        assert abs(nearest_sim - float(sims.max())) < 1e-5


def test_shortlist_keeps_the_winner_and_its_score(monkeypatch):
    from assistant.router import head as head_mod

    emb, head = _many_routes_head()
    monkeypatch.setattr(head_mod, "SHORTLIST_MIN_EXAMPLES", 0)
    monkeypatch.setattr(head_mod, "SHORTLIST", 3)
    for query in ["will it rain", "cook a recipe", "flight to the airport"]:
        short = head.score_one(emb.encode([query])[0], query)[0]
        full = head.scores(emb.encode([query]), [query])[0]
        assert int(np.argmax(short)) == int(np.argmax(full))
        assert abs(short.max() - full.max()) < 1e-5
        assert (short < full - 1e-6).sum() >= 1  # classes outside the shortlist lost their kNN part


def test_single_query_scores_match_the_batch_scores_with_uneven_routes():
    # Routes with fewer examples than k: the padded top-k must average only real examples.
    emb = FakeEmbedder()
    texts = ["weather rain"] + ["timer minutes", "timer seconds"] + [f"bank balance {i}" for i in range(5)]
    y = np.array([0, 1, 1, 2, 2, 2, 2, 2])
    head = fit_head(emb.encode(texts), y, ["weather", "timer", "bank"], texts)
    for query in ["will it rain", "a timer please", "my bank balance"]:
        one = head.score_one(emb.encode([query])[0], query)[0]
        batch = head.scores(emb.encode([query]), [query])[0]
        assert np.allclose(one, batch, atol=1e-5)


def test_shortlisted_scores_match_the_batch_scores_with_uneven_routes(monkeypatch):
    # The shortlist path fills each class's padded row slice by slice; with classes of 1, 2
    # and 5 examples its top-k means and nearest example must match the full pass.
    from assistant.router import head as head_mod

    emb = FakeEmbedder()
    texts = ["weather rain"] + ["timer minutes", "timer seconds"] + [f"bank balance {i}" for i in range(5)]
    y = np.array([0, 1, 1, 2, 2, 2, 2, 2])
    head = fit_head(emb.encode(texts), y, ["weather", "timer", "bank"], texts)
    monkeypatch.setattr(head_mod, "SHORTLIST_MIN_EXAMPLES", 0)
    monkeypatch.setattr(head_mod, "SHORTLIST", 2)
    for query in ["will it rain", "a timer please", "my bank balance"]:
        vec = emb.encode([query])[0]
        one, nearest_class, nearest_sim = head.score_one(vec, query)
        batch = head.scores(emb.encode([query]), [query])[0]
        kept = np.flatnonzero(np.isclose(one, batch, atol=1e-5))
        assert len(kept) == 2  # the two shortlisted classes keep their full score; the third lost its kNN part
        sims = head.examples @ vec
        in_kept = np.isin(head.example_class, kept)
        assert nearest_class == head.example_class[np.flatnonzero(in_kept)[int(np.argmax(sims[in_kept]))]]
        assert abs(nearest_sim - float(sims[in_kept].max())) < 1e-5


def test_knn_similarity_averages_only_a_class_s_own_top_examples():
    from assistant.router.head import KNN_K

    emb = FakeEmbedder()
    texts = ["weather rain"] + ["timer minutes", "timer seconds"] + [f"bank balance {i}" for i in range(5)]
    y = np.array([0, 1, 1, 2, 2, 2, 2, 2])
    head = fit_head(emb.encode(texts), y, ["weather", "timer", "bank"], texts)
    queries = ["will it rain", "a timer please", "my bank balance"]
    q = emb.encode(queries)
    sims = q @ head.examples.T
    want = np.array([[np.sort(row[head.example_class == c])[::-1][:KNN_K].mean() for c in range(3)] for row in sims])
    assert np.allclose(head.knn_sim(q), want, atol=1e-6)
