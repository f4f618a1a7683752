"""`skills check` warnings about routing examples: too few, or all but repeated by another skill."""

from __future__ import annotations

from assistant.router.embedders import FakeEmbedder
from assistant.router.overlap import CLOSE_SIMILARITY, close_examples, example_warnings
from assistant.router.types import RouteSpec

OTHERS = [
    RouteSpec("calculator", ["what is 17 times 23", "calculate 15 percent of 240", "square root of 144"]),
    RouteSpec("timer", ["set a timer for ten minutes", "start a countdown", "stop the timer"]),
]


def test_close_examples_finds_near_repeats_of_other_skills_examples(tmp_path):
    emb = FakeEmbedder()
    own = ["set a timer for ten minutes now", "convert 3 miles to km", "What is 17 times 23?"]
    close = close_examples(own, OTHERS, emb, tmp_path)
    assert [(c.example, c.other, c.other_example) for c in close] == [
        ("What is 17 times 23?", "calculator", "what is 17 times 23")]
    assert close[0].similarity > CLOSE_SIMILARITY
    # The others stay under the limit (the first only just: cosine 0.898 with the fake embedder).
    others = emb.encode([t for r in OTHERS for t in r.examples])
    for text in own[:2]:
        assert float((others @ emb.encode([text])[0]).max()) <= CLOSE_SIMILARITY
    assert close_examples(own, OTHERS, emb, tmp_path, limit=0.85)[1].example == "set a timer for ten minutes now"


def test_warnings_name_the_other_skill_and_the_count(tmp_path):
    emb = FakeEmbedder()
    few = example_warnings("units", ["what is 17 times 23", "convert 3 miles to km"], OTHERS, emb, tmp_path,
                           where="units/skill.toml")
    assert any("only 2 examples" in w and w.startswith("units/skill.toml: ") for w in few)
    assert any("'what is 17 times 23'" in w and "skill 'calculator'" in w for w in few)
    varied = ["convert 3 miles to km", "how many grams in a pound", "inches in a foot", "celsius to fahrenheit",
              "convert 2 litres to cups"]
    assert example_warnings("units", varied, OTHERS, emb, tmp_path) == []
    # A skill is not compared with itself (a re-check of an installed skill).
    assert example_warnings("timer", OTHERS[1].examples * 2, OTHERS, emb, tmp_path)[1:] == []


def test_skills_check_warns_about_an_example_another_skill_has(tmp_path):
    from assistant.config import load_settings
    from assistant.skills.scaffold import check_skill, new_skill

    settings = load_settings()
    folder = new_skill("units", tmp_path, with_code=False)
    manifest = folder / "skill.toml"
    # "what is 17 * 23" is the built-in calculator's own example.
    manifest.write_text(manifest.read_text().replace('"an example request for units"', '"what is 17 * 23"'))
    problems, warnings = check_skill(folder, settings, embedder=FakeEmbedder())
    assert problems == []
    assert any("only 3 examples" in w for w in warnings)
    assert any("'what is 17 * 23'" in w and "skill 'calculator'" in w for w in warnings)
    varied = '[\n  "convert 3 miles to km",\n  "how many grams in a pound",\n  "inches in a foot",\n' \
             '  "celsius to fahrenheit please",\n  "convert 2 litres to cups",\n]'
    text = manifest.read_text()
    start = text.index("examples = [")
    manifest.write_text(text[:start] + "examples = " + varied + text[text.index("]", start) + 1:])
    problems, warnings = check_skill(folder, settings, embedder=FakeEmbedder())
    assert problems == [] and not any("examples" in w and "skill.toml" in w for w in warnings), warnings
