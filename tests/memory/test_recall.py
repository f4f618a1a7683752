"""Recall over past conversations and notes: hybrid keyword + embedding search, the lazy
embedding cache (migration m005), and the recall skill through the pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.config import load_settings
from assistant.events import ReplyFinished
from assistant.memory.recall import Recall, content_words
from assistant.memory.store import Store
from assistant.pipeline import build_pipeline
from assistant.router.embedders import FakeEmbedder
from assistant.snippets import snippet

PAST = {
    "Database plans": [("user", "Which database should the inventory app use?"),
                       ("assistant", "We decided on PostgreSQL with alembic for the schema migrations.")],
    "Trip": [("user", "My flight to Lisbon leaves on Tuesday at 9 from gate 12."),
             ("assistant", "Have a good trip to Lisbon!")],
    "Cooking": [("user", "Give me a pasta recipe with garlic and lemon."),
                ("assistant", "Boil spaghetti, fry garlic in olive oil, add lemon zest and parmesan.")],
}


def seed(store: Store) -> dict[str, str]:
    ids = {}
    for title, msgs in PAST.items():
        cid = store.create_conversation(title)
        for role, text in msgs:
            store.add_message(cid, role, text)
        ids[title] = cid
    return ids


@pytest.fixture
def seeded(store):
    ids = seed(store)
    current = store.create_conversation("now")
    store.add_message(current, "user", "what did we decide about the database")
    return store, ids, current


def embedded(store: Store, model: str) -> int:
    return store.select("SELECT count(*) AS n FROM message_embeddings WHERE model = ?", (model,))[0]["n"]


def test_hybrid_search_finds_other_conversations_and_caches_embeddings(seeded):
    store, ids, current = seeded
    emb = FakeEmbedder()
    recall = Recall(store, lambda: emb)
    hits = recall.search("what did we decide about the database", exclude_conversation=current)
    assert hits and hits[0].conversation_id == ids["Database plans"]
    assert all(h.conversation_id != current for h in hits)  # the current conversation is left out
    assert "PostgreSQL" in " ".join(h.snippet for h in hits[:2])
    assert embedded(store, emb.name) == 7  # every stored message, the current one included, once
    calls = emb.calls
    recall.search("lisbon flight", exclude_conversation=current)
    assert emb.calls == calls + 1  # only the query: stored vectors are reused
    citation = hits[0].citation()
    assert "Database plans" in citation and ids["Database plans"][:8] in citation
    assert hits[0].created_at[:10] in citation


def test_embedding_finds_what_keywords_miss(seeded):
    store, ids, current = seeded
    # "spaghettis" is not a stored word (no stemming in FTS5), but the embedding is close.
    assert Recall(store).search("spaghettis", exclude_conversation=current) == []
    hits = Recall(store, FakeEmbedder).search("spaghettis", exclude_conversation=current)
    assert hits[0].conversation_id == ids["Cooking"]


@pytest.mark.parametrize("embedder", [None, FakeEmbedder()], ids=["keywords", "hybrid"])
def test_recalls_own_answers_are_not_found_again(seeded, embedder):
    # An earlier recall answer quotes the Lisbon message with its source; found again, it would
    # push the message itself down and be quoted in turn ("[1] Sources: [1] ...").
    store, ids, current = seeded
    earlier = store.create_conversation("asked before")
    store.add_message(earlier, "user", "where did I mention Lisbon")
    store.add_message(earlier, "assistant", "You mentioned Lisbon in Trip.\n\nSources:\n[1] My flight to Lisbon leaves...",
                      skill="recall")
    hits = Recall(store, lambda: embedder).search("where did I mention Lisbon", exclude_conversation=current)
    assert hits and all("Sources:" not in h.snippet for h in hits)
    # Nor is the same question asked before: it is not an answer to itself.
    assert hits[0].conversation_id == ids["Trip"] and all(h.conversation_id != earlier for h in hits)


def test_keywords_alone_work_without_an_embedder(seeded):
    store, ids, current = seeded
    hits = Recall(store, lambda: None).search("where did I mention Lisbon", exclude_conversation=current)
    assert {h.conversation_id for h in hits} == {ids["Trip"]}
    assert embedded(store, "fake-hash-256") == 0


def test_a_failing_embedder_falls_back_to_keywords(seeded):
    store, ids, current = seeded

    class Broken:
        name, dim = "broken", 8

        def encode(self, texts):
            raise RuntimeError("no torch today")

    hits = Recall(store, lambda: Broken()).search("pasta recipe", exclude_conversation=current)
    assert hits[0].conversation_id == ids["Cooking"]


def test_lazy_embedding_is_batched_and_bounded(store):
    seed(store)
    settings = load_settings(overrides={"memory": {"recall_embed_batch": 2, "recall_max_embed_per_query": 3}})
    batches = []
    emb = FakeEmbedder()
    encode = emb.encode
    emb.encode = lambda texts: batches.append(len(texts)) or encode(texts)
    recall = Recall(store, lambda: emb, settings)
    recall.search("garlic")
    assert embedded(store, emb.name) == 3 and batches[:2] == [2, 1]
    recall.search("garlic")
    recall.search("garlic")
    assert embedded(store, emb.name) == 6  # the rest follow on later queries


def test_embeddings_follow_their_message(store):
    ids = seed(store)
    emb = FakeEmbedder()
    recall = Recall(store, lambda: emb)
    recall.embed_missing(emb)
    assert embedded(store, emb.name) == 6
    store.delete(ids["Trip"])
    assert embedded(store, emb.name) == 4  # deleted with the conversation
    cid = store.create_conversation("streaming")
    reply = store.start_reply(cid)
    store.save_partial(reply, "half a thou")
    assert recall.embed_missing(emb) == 0  # a reply still streaming is not embedded
    store.finish_reply(reply, "half a thought about lighthouses", "complete")
    assert recall.embed_missing(emb) == 1
    store.transaction(lambda c: c.execute("UPDATE messages SET content = 'changed' WHERE id = ?", (reply,)))
    assert embedded(store, emb.name) == 4  # a stale vector is dropped with the content change


def test_since_limits_to_recent_messages(seeded):
    store, ids, current = seeded
    old = ids["Cooking"]
    store.transaction(lambda c: c.execute("UPDATE messages SET created_at = '2001-01-01T00:00:00+00:00' "
                                     "WHERE conversation_id = ?", (old,)))
    recall = Recall(store, FakeEmbedder).for_conversation(current)
    assert recall.search("pasta recipe garlic")[0].conversation_id == old
    since = datetime.now(UTC) - timedelta(days=14)
    assert all(h.conversation_id != old for h in recall.search("pasta recipe garlic", since=since))


def test_notes_are_searched_and_cited(seeded, tmp_path):
    store, ids, current = seeded
    notes = tmp_path / "notes.json"
    notes.write_text(json.dumps({"next_id": 2, "items": [
        {"id": 1, "kind": "note", "text": "the wifi password is on the router", "done": False,
         "created": "2025-03-01T10:00:00+00:00"}]}))
    hits = Recall(store, FakeEmbedder, notes_file=notes).search("wifi password", exclude_conversation=current)
    assert hits[0].source == "note" and hits[0].citation() == "note 1, 2025-03-01"
    notes.write_text("{not json")  # an unreadable notes file is left out, never an error
    assert all(h.source == "conversation" for h in Recall(store, FakeEmbedder, notes_file=notes).search("wifi password"))


def test_query_words_and_snippets():
    assert content_words("What did we decide about the Database?") == ["database"]
    assert content_words("remind me") == []
    text = "x " * 300 + "the lighthouse keeper" + " y" * 300
    cut = snippet(text, ["lighthouse"])
    assert "lighthouse" in cut and cut.startswith("…") and cut.endswith("…") and len(cut) < 260


# The skill through the pipeline ----------------------------------------------------------------
@pytest.fixture
def pipeline():
    p = build_pipeline(load_settings(), fake=True)
    seen = []
    backend = FakeBackend("qwen2.5-coder-0.5b", script=lambda r: seen.append(r) or "You chose PostgreSQL [1].")
    p.models = ModelManager(p.settings, factory=lambda n, a: backend)
    p.seen = seen
    yield p
    p.close()


def test_recall_skill_answers_with_cited_sources(pipeline):
    ids = seed(pipeline.store)
    events = list(pipeline.run_turn(None, "remind me what we decided about the database", skill="recall"))
    done = events[-1]
    assert isinstance(done, ReplyFinished) and done.status == "complete", done
    assert done.text.startswith("You chose PostgreSQL [1].")
    assert "Sources:" in done.text and "[1]" in done.text
    assert "Database plans" in done.text and ids["Database plans"][:8] in done.text
    prompt = pipeline.seen[-1].messages
    assert prompt[0].role == "system" and "excerpts" in prompt[0].content
    assert "PostgreSQL" in prompt[-1].content and "Question: remind me" in prompt[-1].content
    # The reply is stored like any other, and a later recall does not quote the current conversation.
    assert pipeline.store.messages(done.conversation_id)[-1].content == done.text


def test_recall_skill_lists_sources_without_a_model_answer(pipeline):
    seed(pipeline.store)
    pipeline.registry.get("recall").manifest.settings["answer"] = False
    done = list(pipeline.run_turn(None, "find where I mentioned Lisbon last week", skill="recall"))[-1]
    assert done.text.startswith("Here is what I found") and "Lisbon" in done.text and "Trip" in done.text
    assert pipeline.seen == []


def test_recall_skill_says_when_nothing_is_found(pipeline):
    done = list(pipeline.run_turn(None, "what did we say about zeppelins", skill="recall"))[-1]
    assert "found nothing" in done.text and pipeline.seen == []


def test_other_skills_get_no_recall_access(pipeline):
    from assistant.skills.context import SkillContext

    seen = {}
    chat = pipeline.registry.get("chat")
    original = pipeline.registry.run

    def spy(skill, ctx: SkillContext):
        seen[skill.name] = ctx.recall
        return original(skill, ctx)

    pipeline.registry.run = spy
    list(pipeline.run_turn(None, "hello", skill="chat"))
    list(pipeline.run_turn(None, "what did we say about x", skill="recall"))
    assert seen[chat.name] is None and seen["recall"] is not None


def test_recall_examples_route_to_recall_and_do_not_take_notes_routes(pipeline):
    pipeline.start()
    assert pipeline.router.wait_ready(60)
    for text in ("what did we say about the quarterly budget", "search my past conversations for the hotel name"):
        assert pipeline.explain(None, text).skill == "recall", text
    for text, skill in (("remind me to call the bank", "notes"), ("summarize our conversation so far", "summarize")):
        assert pipeline.explain(None, text).skill == skill, text


@pytest.mark.real_embedder
def test_real_embedder_recalls_by_meaning(store):
    from assistant.router.embedders import MiniLMEmbedder

    ids = seed(store)
    emb = MiniLMEmbedder()
    hits = Recall(store, lambda: emb).search("which relational DB did we pick")
    assert hits[0].conversation_id == ids["Database plans"]
    assert embedded(store, emb.name) == 6


def test_unrelated_query_finds_nothing_rather_than_the_nearest_junk(seeded):
    store, _ids, current = seeded
    query = "quantum chromodynamics lecture notes"
    assert Recall(store, FakeEmbedder).search(query, exclude_conversation=current) == []
    # Without the similarity floor the nearest (unrelated) messages would be cited.
    anything = load_settings(overrides={"memory": {"recall_min_similarity": -1.0}})
    assert Recall(store, FakeEmbedder, anything).search(query, exclude_conversation=current)


def test_a_general_question_routed_to_recall_goes_to_chat(pipeline):
    from assistant.events import RouteDecided

    seed(pipeline.store)
    text = "when did the nfl adopt a salary cap"
    pipeline.start()
    assert pipeline.router.wait_ready(60)
    pipeline.save_correction("recall", text)  # so the router sends it to recall
    assert pipeline.router.wait_ready(60) and pipeline.explain(None, text).skill == "recall"
    events = list(pipeline.run_turn(None, text))
    routes = [e.route for e in events if isinstance(e, RouteDecided)]
    assert [r.skill for r in routes] == ["recall", "chat"]
    assert "not about your conversations or notes" in routes[-1].reason
    assert isinstance(events[-1], ReplyFinished) and events[-1].skill == "chat"
    # Chosen by the user, recall searches whatever the wording.
    done = list(pipeline.run_turn(None, "the lisbon trip", skill="recall"))[-1]
    assert isinstance(done, ReplyFinished) and done.skill == "recall" and "Lisbon" in done.text


@pytest.mark.parametrize(("text", "personal"), [
    ("what did we say about the database migration", True), ("search my notes for wifi", True),
    ("in an earlier conversation, the hotel name", True), ("what was the hotel you suggested", True),
    ("when did the nfl adopt a salary cap", False), ("who wrote war and peace", False),
    ("what is the history of the roman empire", False),
])
def test_about_the_user(pipeline, text, personal):
    about = pipeline.registry.get("recall").handler.__globals__["about_the_user"]
    assert about(text) is personal
