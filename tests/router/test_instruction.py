"""A request that carries its own text is routed by its instruction, not by the text it pastes."""

from __future__ import annotations

import doctest

import pytest

from assistant.router import instruction
from assistant.router.instruction import instruction_of
from assistant.router.router import Router
from assistant.router.sources import Corrections

from .test_negatives import SKILLS, build

# A pasted text about invoices, tables and e-mail addresses: on its own it reads as 'extract'.
PASTED = ("Bob: did you extract the dates from the invoice table? Alice: yes, and the email addresses from "
          "the contacts page, the phone numbers too. Bob: then extract the key figures from the spreadsheet.")


def test_the_docstring_examples_hold():
    assert doctest.testmod(instruction).failed == 0


@pytest.mark.parametrize(("text", "want"), [
    ("summarize this:\n\nAlice: hi\nBob: hello", "summarize this"),
    ("tl;dr: the meeting moved to thursday", "tl;dr"),
    ("Give me the gist\nof this long text", "Give me the gist"),
    ("is this positive or negative? the soup was cold", "is this positive or negative"),
    ("what is 6 times 7", None),
    ("wake me at 10:30 tomorrow", None),  # a colon inside a time splits nothing
    ("see https://example.com/a:b for the rules", None),
    ("summarize this article:", None),  # nothing after the instruction
    ("why?", None),
    (" ".join(["word"] * 31) + ": and the rest", None),  # too long to be an instruction
])
def test_instruction_of(text, want):
    assert instruction_of(text) == want


def test_the_instruction_decides_over_the_pasted_text():
    router = build()
    assert router.route(PASTED).skill == "extract"  # the text alone reads as extraction
    choice = router.route("summarize this article: " + PASTED)
    assert choice.skill == "summarize", choice.reason
    assert choice.instruction == "summarize this article"
    assert choice.reason.startswith("decided on the instruction 'summarize this article'")
    assert choice.as_dict()["instruction"] == "summarize this article"


def test_an_unclear_instruction_leaves_the_whole_text_to_decide():
    router = build()
    choice = router.route("hmm: set a kitchen timer for the pasta")
    assert choice.skill == "timer" and choice.instruction is None


def test_a_saved_correction_of_the_whole_text_wins_over_its_instruction(tmp_path):
    text = "summarize this article: " + PASTED
    corrections = Corrections(tmp_path / "corrections.jsonl")
    corrections.add("extract", text)
    router = Router.build(corrections.apply(SKILLS, "chat"), build().embedder)
    choice = router.route(text)
    assert choice.skill == "extract" and choice.known_example and choice.instruction is None


@pytest.mark.real_embedder
def test_built_in_skills_route_pasted_text_by_its_instruction(minilm, isolated_home):
    from assistant.config import load_settings
    from assistant.router.sources import routes_from_skills

    router = Router.build(routes_from_skills(load_settings()), minilm)
    for text, skill in [
        ("summarize: The meeting moved from Tuesday to Thursday because the client is travelling, "
         "and the budget review is postponed to next month.", "summarize"),
        ("classify this as one of sports, politics, technology: The senate passed the budget bill on Friday.",
         "classify"),
        ("extract the name and city from: Maria Lopez lives in Lisbon", "extract"),
    ]:
        choice = router.route(text)
        assert choice.skill == skill, (text, choice.reason)
