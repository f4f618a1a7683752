"""Scoring logic of every check type."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assistant.tuning.checks import (
    check_exact,
    check_json,
    check_keywords,
    check_label,
    check_similarity,
    default_check,
    parse_label,
    schema_errors,
    score_item,
    token_f1,
)

LABELS = ["positive", "negative", "neutral"]
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_exact_ignores_case_space_and_final_period() -> None:
    assert check_exact("  Paris. ", "paris").passed
    assert not check_exact("Paris, France", "Paris").passed


def test_label_takes_the_first_label_word() -> None:
    assert check_label("Positive.", "positive", LABELS).passed
    assert check_label("negative - the food was cold", "negative", LABELS).passed
    wrong = check_label("neutral", "positive", LABELS)
    assert not wrong.passed and wrong.valid and wrong.detail == "said neutral"


def test_label_not_in_the_set_is_invalid() -> None:
    score = check_label("I think it is good", "positive", LABELS)
    assert (score.score, score.passed, score.valid) == (0.0, False, False)


def test_label_listing_every_label_late_does_not_score() -> None:
    # A model that repeats the instructions must not get credit for the label it mentions.
    assert parse_label("The answer could be positive, negative or neutral", LABELS) is None


def test_json_per_field_accuracy_and_validity() -> None:
    score = check_json('{"name": "Ada", "age": 36, "city": "London"}', {"name": "ada", "age": 36, "city": "Paris"}, SCHEMA)
    assert score.valid and not score.passed
    assert score.fields == {"name": True, "age": True, "city": False}
    assert abs(score.score - 2 / 3) < 1e-9


def test_json_inside_a_code_fence_is_parsed() -> None:
    score = check_json('```json\n{"name": "Ada", "age": 36}\n```', {"name": "Ada", "age": 36}, SCHEMA)
    assert score.passed and score.score == 1.0


def test_json_schema_violations_make_it_invalid() -> None:
    score = check_json('{"name": "Ada", "age": "36", "extra": 1}', {"name": "Ada"}, SCHEMA)
    assert not score.valid and not score.passed
    assert score.fields == {"name": True}
    assert "expected integer" in score.detail


def test_json_list_of_records_must_match_whole_after_prose() -> None:
    records = [{"name": "Alice", "city": "Paris"}, {"name": "Bob", "city": "Oslo"}]
    said = 'Found 2 records:\n[{"name": "alice", "city": "Paris"}, {"name": "Bob", "city": "Oslo"}]'
    assert check_json(said, records, None).passed  # text before the JSON, case of a value
    assert not check_json(said.replace("Oslo", "Bergen"), records, None).passed
    assert not check_json('[{"name": "Alice", "city": "Paris"}]', records, None).passed  # a record missing


def test_skill_evals_score_with_the_tuning_scorer() -> None:
    from assistant.skills.evals import EvalItem, passes

    assert passes(EvalItem({"input": "x", "expected": "= 42"}, 1), "= 42.")[0]  # exact: case, end punctuation
    assert not passes(EvalItem({"input": "x", "expected": "= 42"}, 1), "= 41")[0]
    ok, why = passes(EvalItem({"input": "x", "expected": "Paris", "check": "contains"}, 1), "it is in oslo")
    assert not ok and "Paris" in why
    assert passes(EvalItem({"input": "x", "expected": {"a": 1}}, 1), 'sure: {"a": 1}')[0]


def test_json_that_is_not_json() -> None:
    score = check_json("Ada is 36", {"name": "Ada"}, SCHEMA)
    assert (score.valid, score.score, score.fields) == (False, 0.0, {"name": False})


def test_schema_errors_cover_required_enum_and_items() -> None:
    schema = {"type": "object", "required": ["tags"], "properties": {
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}}}
    assert schema_errors({"tags": ["a", "b"]}, schema) == []
    assert schema_errors({"tags": ["a", "c"]}, schema) == ["$.tags[1]: 'c' is not one of ['a', 'b']"]
    assert schema_errors({}, schema) == ["$.tags: missing"]
    assert schema_errors({"tags": [True]}, {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "integer"}}}})


def test_similarity_is_token_f1_with_threshold() -> None:
    assert token_f1("the cat sat", "the cat sat") == 1.0
    assert token_f1("dog", "the cat sat") == 0.0
    score = check_similarity("the cat sat down", "the cat sat", threshold=0.8)
    assert score.passed and abs(score.score - 6 / 7) < 1e-9
    assert not check_similarity("a cat", "the cat sat on the mat", threshold=0.5).passed


def test_keywords_share() -> None:
    score = check_keywords("Install with pip, then run pytest", ["pip", "pytest", "venv"])
    assert abs(score.score - 2 / 3) < 1e-9 and not score.passed and "venv" in score.detail
    assert check_keywords("PIP and PYTEST", ["pip", "pytest"]).passed


def test_default_check_follows_item_and_schema() -> None:
    label_schema = {"type": "string", "enum": LABELS}
    assert default_check(label_schema, {"expected": "positive"}) == "label"
    assert default_check(SCHEMA, {"expected": {"name": "x"}}) == "json"
    assert default_check(None, {"keywords": ["a"]}) == "keywords"
    assert default_check(None, {"expected": "free text"}) == "similarity"
    assert score_item("positive", {"input": "x", "expected": "positive"}, label_schema).passed
    assert score_item("Positive", {"input": "x", "expected": "positive", "check": "exact"}, None).passed


@given(st.text(max_size=200))
def test_no_check_raises_on_any_model_output(text: str) -> None:
    for item, schema in (
        ({"expected": "positive"}, {"type": "string", "enum": LABELS}),
        ({"expected": {"name": "x"}}, SCHEMA),
        ({"expected": "some words"}, None),
        ({"keywords": ["a"]}, None),
        ({"expected": "x", "check": "exact"}, None),
    ):
        score = score_item(text, {"input": "", **item}, schema)
        assert 0.0 <= score.score <= 1.0


@given(st.text(max_size=80), st.text(max_size=80))
def test_token_f1_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert 0.0 <= token_f1(a, b) <= 1.0
    assert abs(token_f1(a, b) - token_f1(b, a)) < 1e-9


def test_contains_and_labels_from_the_eval_set() -> None:
    from assistant.tuning.checks import eval_labels

    assert score_item("It is in Paris.", {"input": "", "expected": "paris", "check": "contains"}, None).passed
    items = [{"expected": "German", "check": "label"}, {"expected": "French", "check": "label"}, {"expected": "x"}]
    assert eval_labels(items, None) == ["French", "German"]
    item = {"input": "", "expected": "German", "check": "label", "labels": ["French", "German"]}
    assert score_item('{"language": "german"}', item, None).passed
    assert not score_item("English", item, None).valid
