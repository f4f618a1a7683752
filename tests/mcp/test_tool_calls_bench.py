"""benchmarks/tool_calls.py: BFCL's AST check and both calling modes, on a scripted fake model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.skills.context import DirectModelAccess

ROOT = Path(__file__).resolve().parents[2]
FUNCS = [{"name": "calculate_triangle_area", "description": "Area of a triangle.",
          "parameters": {"type": "dict", "properties": {"base": {"type": "integer"}, "height": {"type": "integer"},
                                                         "unit": {"type": "string"}}, "required": ["base", "height"]}},
         {"name": "circle.area", "description": "Area of a circle.",
          "parameters": {"type": "dict", "properties": {"radius": {"type": "float"}}, "required": ["radius"]}}]
TRUTH = {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}
ITEM = {"id": "t0", "question": [[{"role": "user", "content": "Area of a triangle with base 10 and height 5?"}]],
        "function": FUNCS}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("tool_calls", ROOT / "benchmarks" / "tool_calls.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, args, ok, why", [
    ("calculate_triangle_area", {"base": 10, "height": 5}, True, ""),
    ("calculate_triangle_area", {"base": 10, "height": 5, "unit": "Units"}, True, ""),
    ("calculate_triangle_area", {"base": 10}, False, "missing required height"),
    ("calculate_triangle_area", {"base": 10, "height": 6}, False, "height=6"),
    ("calculate_triangle_area", {"base": 10, "height": 5, "color": "red"}, False, "unknown argument color"),
    ("calculate_triangle_area", {"base": 10.0, "height": 5}, False, "base=10.0"),
    ("circle.area", {"radius": 1}, False, "wrong function"),
])
def test_ast_check(bench, name, args, ok, why) -> None:
    got_ok, got_why = bench.ast_check(name, args, FUNCS, TRUTH)
    assert got_ok is ok and why in got_why


def test_int_is_accepted_for_a_float_parameter(bench) -> None:
    assert bench.ast_check("circle.area", {"radius": 2}, FUNCS, {"circle.area": {"radius": [2.0]}})[0]


DB = [{"name": "db.update", "description": "Update rows.",
       "parameters": {"type": "dict", "properties": {"info": {"type": "dict"}, "where": {"type": "array", "items": {"type": "dict"}}},
                      "required": ["info"]}}]
DB_TRUTH = {"db.update": {"info": [{"name": ["John Doe"], "email": ["jd@example.org", ""]}],
                          "where": [[{"field": ["age"], "op": [">", "gt"]}], ""]}}


@pytest.mark.parametrize("args, ok", [
    ({"info": {"name": "john doe", "email": "jd@example.org"}}, True),  # each key among its accepted values
    ({"info": {"name": "John Doe"}}, True),                                # a key whose answers include ""
    ({"info": {"email": "jd@example.org"}}, False),                        # a key that must be there
    ({"info": {"name": "Jane Doe"}}, False),
    ({"info": {"name": "John Doe", "phone": "1"}}, False),                 # a key BFCL does not know
    ({"info": {"name": "John Doe"}, "where": [{"field": "age", "op": "gt"}]}, True),  # a list of dicts, item by item
    ({"info": {"name": "John Doe"}, "where": [{"field": "age", "op": "<"}]}, False),
    ({"info": {"name": "John Doe"}, "where": [{"field": "age", "op": ">"}, {"field": "id", "op": ">"}]}, False),
])
def test_dict_values_are_checked_key_by_key_as_bfcl_does(bench, args, ok) -> None:
    assert bench.ast_check("db.update", args, DB, DB_TRUTH)[0] is ok


def test_a_saved_run_is_rescored_without_a_model(bench, tmp_path) -> None:
    if not bench.DATA.is_dir():
        pytest.skip(f"the BFCL files are not beside this checkout ({bench.DATA})")
    item, answer = bench.load("simple", 1)[0]
    (name, args), = answer["ground_truth"][0].items()
    right = {k: v[0] for k, v in args.items() if v and v[0] != ""}
    saved = {"set": "bfcl_simple_python", "engine": {"items": [
        {"id": item["id"], "ok": False, "call": {"name": name, "arguments": right}},
        {"id": item["id"], "ok": True, "call": {"name": "nope", "arguments": {}}}]}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(saved))
    out = bench.rescore(path)["engine"]
    assert (out["correct"], out["saved_correct"], out["n"]) == (1, 1, 2)


def access_for(settings, script) -> DirectModelAccess:
    manager = ModelManager(settings, factory=lambda model, adapter: FakeBackend(model, script=script))
    return DirectModelAccess(manager, settings.default_model)


def test_both_modes_run_and_score(bench, make_settings, tool_script) -> None:
    settings = make_settings({})
    pairs = [(ITEM, {"id": "t0", "ground_truth": [TRUTH]})]
    good = access_for(settings, tool_script("calculate_triangle_area", {"base": 10, "height": 5}))
    assert bench.run_mode("engine", good, pairs, True)["correct"] == 1
    free = access_for(settings, lambda r: 'Sure: {"name": "calculate_triangle_area", "arguments": {"base": 10, "height": 5}}')
    assert bench.run_mode("free", free, pairs, False)["accuracy"] == 1.0
    wrong = access_for(settings, lambda r: "I would call the triangle function.")
    result = bench.run_mode("free", wrong, pairs, True)
    assert result["correct"] == 0 and result["items"][0]["why"]


def test_the_data_files_are_there_and_parse(bench) -> None:
    if not bench.DATA.is_dir():
        pytest.skip(f"the BFCL files are not beside this checkout ({bench.DATA})")
    pairs = bench.load("multiple", 3)
    assert len(pairs) == 3 and all(i["id"] == a["id"] for i, a in pairs)
    assert json.dumps(bench.tools_of(pairs[0][0]["function"])[0].input_schema)
