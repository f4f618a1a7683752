"""The store's behaviour: messages, streaming replies, search, titles, ids, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.errors import StoreError
from assistant.memory.store import Store
from assistant.memory.titles import title_from_text


def test_user_message_is_on_disk_when_add_message_returns(store: Store, db_path: Path) -> None:
    cid = store.create_conversation()
    mid = store.add_message(cid, "user", "hello there")
    # A second, independent connection sees it at once: it was committed, not buffered.
    other = sqlite3.connect(db_path)
    assert other.execute("SELECT content FROM messages WHERE id = ?", (mid,)).fetchone() == ("hello there",)
    other.close()


def test_pragmas(store: Store) -> None:
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_streaming_reply_lifecycle_keeps_partial_text(store: Store) -> None:
    cid = store.create_conversation()
    store.add_message(cid, "user", "write a poem")
    rid = store.start_reply(cid, skill="chat", model="qwen", route_score=0.8, runner_up="code")
    assert store.message(rid).status == "streaming"
    store.save_partial(rid, "Roses are")
    assert store.message(rid).content == "Roses are"
    store.finish_reply(rid, "Roses are red", "cancelled", completion_tokens=3, ttft_ms=120.5, duration_ms=900.0)
    msgs = store.messages(cid)
    assert [m.role for m in msgs] == ["user", "assistant"]
    reply = msgs[1]
    assert (reply.content, reply.status, reply.skill, reply.runner_up) == ("Roses are red", "cancelled", "chat", "code")
    assert (reply.completion_tokens, reply.ttft_ms, reply.route_score) == (3, 120.5, 0.8)


def test_failed_reply_keeps_error_and_partial(store: Store) -> None:
    cid = store.create_conversation()
    rid = store.start_reply(cid)
    store.finish_reply(rid, "half", "error", error="model crashed")
    m = store.message(rid)
    assert (m.content, m.status, m.error) == ("half", "error", "model crashed")


def test_bad_input_is_a_store_error(store: Store) -> None:
    cid = store.create_conversation()
    with pytest.raises(StoreError, match="no conversation"):
        store.add_message("nope", "user", "x")
    with pytest.raises(StoreError, match="role"):
        store.add_message(cid, "robot", "x")
    with pytest.raises(StoreError, match="unknown message fields"):
        store.add_message(cid, "user", "x", colour="red")
    with pytest.raises(StoreError, match="status"):
        store.finish_reply(store.start_reply(cid), "x", "done")
    with pytest.raises(StoreError, match="no message"):
        store.finish_reply("missing", "x", "complete")
    with pytest.raises(StoreError, match="empty"):
        store.rename(cid, "   ")
    with pytest.raises(StoreError, match="no conversation"):
        store.messages("nope")
    # Only the reply started above was stored; every refused call left nothing behind.
    assert [(m.role, m.status) for m in store.messages(cid)] == [("assistant", "streaming")]


def test_list_order_pin_archive_rename_delete(store: Store) -> None:
    a, b, c = (store.create_conversation(t) for t in ("a", "b", "c"))
    store.add_message(a, "user", "bump a")  # a becomes most recent
    assert [x.id for x in store.list_conversations()] == [a, c, b]
    store.set_pinned(b)
    store.set_archived(c)
    assert [x.id for x in store.list_conversations()] == [b, a]
    assert {x.id for x in store.list_conversations(include_archived=True)} == {a, b, c}
    store.rename(a, "  New\n title ")
    assert store.conversation(a).title == "New title"
    assert store.conversation(a).message_count == 1
    store.delete(a)
    assert store.conversation(a) is None
    assert store.search("bump") == []
    with pytest.raises(StoreError):
        store.delete(a)


def test_summary_slot(store: Store) -> None:
    cid = store.create_conversation()
    mid = store.add_message(cid, "user", "x")
    store.set_summary(cid, "we talked about x", mid)
    conv = store.conversation(cid)
    assert (conv.summary, conv.summary_through) == ("we talked about x", mid)


def test_resolve_prefix(store: Store) -> None:
    ids = [store.create_conversation() for _ in range(20)]
    target = ids[3]
    assert store.resolve(target[:10]) == target
    assert store.resolve(target.upper()) == target
    with pytest.raises(StoreError, match="no conversation"):
        store.resolve("zzzz")
    shared = {i[0] for i in ids}
    first = next(ch for ch in shared if sum(i.startswith(ch) for i in ids) > 1)
    with pytest.raises(StoreError, match="several"):
        store.resolve(first)


def test_search_finds_words_with_snippets_and_titles(store: Store) -> None:
    a = store.create_conversation("Python lists")
    store.add_message(a, "user", "How do I reverse a list in Python quickly?")
    b = store.create_conversation("Cooking")
    store.add_message(b, "user", "A recipe for onion soup, please")
    rid = store.start_reply(b)
    store.finish_reply(rid, "Slice the onions thinly and cook them slowly", "complete")
    hits = store.search("onions")
    assert [(h.conversation_id, h.message_id, h.title) for h in hits] == [(b, rid, "Cooking")]
    assert "**onions**" in hits[0].snippet
    assert store.search("REVERSE python")[0].conversation_id == a
    assert store.search("Zürich") == []


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_search_never_raises_on_any_user_query(query: str) -> None:
    s = Store.memory()
    cid = s.create_conversation()
    s.add_message(cid, "user", 'NEAR(a b) "quoted" col:on AND OR NOT * ^x')
    hits = s.search(query)
    assert isinstance(hits, list)
    s.close()


def test_fts_syntax_is_taken_literally(store: Store) -> None:
    cid = store.create_conversation()
    store.add_message(cid, "user", 'please use NEAR and "quotes" in content')
    assert len(store.search('NEAR "quotes')) == 1
    assert len(store.search("content:quotes")) == 1  # not a column filter
    assert store.search('"') == [] and store.search("***") == []


def test_titles() -> None:
    assert title_from_text("hey, can you please explain how Python decorators work?") == \
        "Explain how Python decorators work?"
    assert title_from_text("```py\nprint(1)\n```\nwhy does this print 1") == "Why does this print 1"
    long = title_from_text("word " * 50)
    assert len(long) <= 49 and long.endswith("…")
    assert title_from_text("   \n\n") == "New conversation"
    assert title_from_text("[bold]x[/bold] \x00 hi") .startswith("Bold x")


def test_store_shared_between_threads(store: Store) -> None:
    cid = store.create_conversation()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.add_message(cid, "user", f"thread {n} message {i}")
                store.search("thread")
        except BaseException as exc:  # noqa: BLE001 - any failure in the thread is reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.messages(cid)) == 100
    assert store.integrity_check() == "ok"


def test_replies_left_streaming_by_a_dead_process_are_recovered(store: Store) -> None:
    cid = store.create_conversation()
    old = store.start_reply(cid)
    store.save_partial(old, "half a thought")
    store.db.execute("UPDATE messages SET created_at = '2000-01-01T00:00:00.000000+00:00' WHERE id = ?", [old])
    live = store.start_reply(cid)  # another process may be streaming this one right now
    assert store.recover_interrupted() == 1
    m = store.message(old)
    assert (m.status, m.content) == ("cancelled", "half a thought") and "interrupted" in m.error
    assert store.message(live).status == "streaming"


def test_a_lone_surrogate_is_kept_as_a_replacement_character_not_a_failed_write():
    """A broken paste can hold a lone surrogate; SQLite keeps only UTF-8, and the message must
    not be lost for it (nor a title, a reply, or a search)."""
    store = Store.memory()
    cid = store.create_conversation("bad \ud800 title")
    store.add_message(cid, "user", "carriage \ud800 lone surrogate")
    reply = store.start_reply(cid)
    store.save_partial(reply, "half \udfff")
    store.finish_reply(reply, "done \ud800", error="err \ud800")
    assert [m.content for m in store.messages(cid)] == ["carriage \ufffd lone surrogate", "done \ufffd"]
    assert store.messages(cid)[1].error == "err \ufffd"
    assert store.conversation(cid).title == "bad \ufffd title"
    assert [h.conversation_id for h in store.search("lone \ud800")] == [cid]
