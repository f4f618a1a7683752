"""A skill's negatives push requests away from that skill only; fallback examples still veto."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.router.data import Example, routes_from_examples
from assistant.router.embedders import FakeEmbedder
from assistant.router.router import REJECT, Router
from assistant.router.sources import Corrections
from assistant.router.types import RouteSpec

from .test_router_core import ROUTES as BASIC

SUMMARIZE = RouteSpec("summarize", [
    "summarize this article", "give me a summary of the meeting notes", "summarize the file notes.txt",
    "tldr of this email", "summarize plan.md in three bullets", "short summary of the pdf"])
EXTRACT = RouteSpec("extract", [
    "extract the dates from invoice.pdf", "pull the email addresses out of contacts.txt",
    "extract the table from report.txt", "list the names mentioned in notes.txt",
    "get the phone numbers from this page", "extract the key figures from the spreadsheet"],
    negatives=["summarize report.txt", "summarize memo.txt for me"])
CODE = RouteSpec("code", [
    "write a python function to sort a dictionary", "write a bash script that renames files",
    "fix this python error", "write a function that parses json", "how do I reverse a string in rust",
    "write a sql query to count users"])
DOCS = RouteSpec("docs", [
    "read the pdf and answer questions", "what does chapter two of the manual say",
    "search my documents for the lease", "open the pdf in my downloads",
    "find the paragraph about refunds in the pdf", "read this pdf aloud"],
    negatives=["write a python function to read a pdf", "write a python function to reverse a pdf"])
TIMER = RouteSpec("timer", [
    "set a timer for ten minutes", "start a countdown", "timer for the pasta", "stop the timer",
    "set a kitchen timer", "remind me in five minutes"])
SKILLS = [SUMMARIZE, EXTRACT, CODE, DOCS, TIMER]


def build(routes=SKILLS, cache=None, emb=None) -> Router:
    return Router.build(routes, emb or FakeEmbedder(), cache)


def as_fallback_examples(routes):
    """The same texts as a global reject set (what the router did with every negative before)."""
    return [RouteSpec(r.name, r.examples, fallback_examples=r.negatives) for r in routes]


def test_another_skills_negative_does_not_veto_the_memo_request():
    router = build()
    choice = router.route("summarize /tmp/memo.txt")
    assert choice.skill == "summarize", choice.reason
    assert "general chat" not in choice.reason
    # The same texts as a global reject set (corrections to chat) still make it fall back.
    pooled = build(as_fallback_examples(SKILLS)).route("summarize /tmp/memo.txt")
    assert pooled.skill is None and "general chat" in pooled.reason


def test_docs_negative_does_not_send_a_code_request_to_chat():
    router = build()
    assert router.route("write a python function to reverse a list").skill == "code"
    assert build(as_fallback_examples(SKILLS)).route("write a python function to reverse a list").skill is None


def test_a_negative_still_keeps_requests_from_its_own_skill():
    router = build()
    for text, owner in (("write a python function to read a pdf", "docs"), ("summarize report.txt", "extract")):
        choice = router.route(text)
        assert choice.skill != owner
        assert dict(choice.candidates).get(owner, 0.0) < router.threshold
    one = router.head.score_one_explained(router.embedder.encode(["summarize report.txt"])[0], "summarize report.txt")
    pushed = one.pushed[router.head.classes.index("extract")]
    assert pushed.negative == "summarize report.txt" and pushed.negative_sim == pytest.approx(1.0, abs=1e-5)
    assert pushed.after < pushed.before
    # Other skills are not lowered by extract's negatives.
    assert set(one.pushed) == {router.head.classes.index("extract")}


def test_why_says_when_a_negative_lowered_the_skill_that_would_have_won():
    text = "what is the forecast for my career next year"
    plain = build(BASIC).route(text)
    assert plain.skill == "weather"
    routes = [RouteSpec("weather", BASIC[0].examples, negatives=["what is the forecast for my career"]), *BASIC[1:]]
    choice = build(routes).route(text)
    assert choice.skill is None
    assert "'weather' was lowered" in choice.reason and "'what is the forecast for my career'" in choice.reason
    assert "falling back" in choice.reason
    weather = dict(choice.candidates)["weather"]
    assert weather < plain.score and weather < choice.threshold
    # A request for the skill itself is untouched, and its reason mentions no negative.
    ok = build(routes).route("what is the weather forecast for paris tomorrow")
    assert ok.skill == "weather" and "lowered" not in ok.reason


def test_a_saved_correction_to_chat_still_falls_back(tmp_path):
    corrections = Corrections(tmp_path / "corrections.jsonl")
    corrections.add("chat", "summarize /tmp/memo.txt")
    routes = corrections.apply(SKILLS, "chat")
    assert routes[0].fallback_examples == ["summarize /tmp/memo.txt"]
    assert all("summarize /tmp/memo.txt" not in r.negatives for r in routes)
    router = build(routes)
    choice = router.route("summarize /tmp/memo.txt")
    assert choice.skill is None and "general chat" in choice.reason
    assert router.route("summarize the meeting notes").skill == "summarize"


def test_oos_training_lines_become_the_global_reject_set():
    routes = routes_from_examples([Example("set a timer", "timer"), Example("tell me a joke", "oos"),
                                   Example("translate cat to french", "translate")])
    assert [r.negatives for r in routes] == [[], []]
    assert routes[0].fallback_examples == ["tell me a joke"]
    router = build(routes)
    assert REJECT in router.head.classes and router.head.neg_texts == []
    assert router.route("tell me a joke").skill is None


def test_a_negative_that_is_another_skills_example_is_kept():
    routes = [RouteSpec("calculator", ["what is 12 times 7", "add 5 and 9", "square root of 81", "divide 100 by 4"],
                        negatives=["what time is it in tokyo"]),
              RouteSpec("datetime", ["what time is it in tokyo", "what is the date today", "time in london now",
                                     "what day is it"])]
    router = build(routes)
    assert router.head.neg_texts == ["what time is it in tokyo"]
    assert router.route("what time is it in tokyo").skill == "datetime"
    # A negative repeating the skill's own example is dropped.
    own = build([RouteSpec("timer", ["start a timer", "stop the timer"], negatives=["Start a timer!", "what time is it"])])
    assert own.head.neg_texts == ["what time is it"]


def test_batch_scores_match_single_queries_with_negatives():
    router = build()
    emb = router.embedder
    texts = ["summarize /tmp/memo.txt", "write a python function to read a pdf", "summarize report.txt",
             "set a timer", "what is the capital of peru"]
    batch = router.head.scores(emb.encode(texts), texts)
    for row, text in zip(batch, texts, strict=True):
        one = router.head.score_one(emb.encode([text])[0], text)[0]
        np.testing.assert_allclose(row, one, atol=1e-5)


def test_negatives_survive_the_head_cache(tmp_path):
    first = build(cache=tmp_path)
    emb = FakeEmbedder()
    again = build(cache=tmp_path, emb=emb)
    assert again.head.neg_texts == first.head.neg_texts and len(again.head.neg_texts) == 4
    np.testing.assert_array_equal(again.head.neg_class, first.head.neg_class)
    assert again.route("summarize report.txt").reason == first.route("summarize report.txt").reason
    changed = [SKILLS[0], RouteSpec("extract", EXTRACT.examples, negatives=["summarize report.txt"]), *SKILLS[2:]]
    assert build(changed, cache=tmp_path).head.neg_texts == ["summarize report.txt", *DOCS.negatives]


@pytest.mark.real_embedder
def test_minilm_memo_request_goes_to_summarize_despite_extracts_negative(minilm, tmp_path):
    routes = [
        RouteSpec("summarize", ["summarize this article", "give me a summary of the meeting notes",
                                "summarize the file notes.txt", "tl;dr of this email", "summarize plan.md in three bullets"]),
        RouteSpec("extract", ["extract the dates from invoice.pdf", "pull the email addresses out of contacts.txt",
                              "extract the table from data.csv", "list the names mentioned in notes.txt",
                              "get the phone numbers from this page"], negatives=["summarize report.txt"]),
        RouteSpec("timer", ["set a timer for ten minutes", "start a countdown", "timer for the pasta",
                            "stop the timer", "set a kitchen timer"]),
        RouteSpec("weather", ["will it rain today", "weather forecast for tomorrow", "is it sunny outside",
                              "how cold is it in oslo", "will it snow this weekend"]),
    ]
    router = Router.build(routes, minilm, tmp_path)
    choice = router.route("summarize /tmp/memo.txt")
    assert choice.skill == "summarize", choice.reason
    assert router.route("summarize report.txt").skill != "extract"
    assert router.route("extract the dates from memo.txt").skill == "extract"
