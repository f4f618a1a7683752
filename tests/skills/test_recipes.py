"""Training recipes (`assistant tune-data`): pairs built exactly as the skills ask, parameters varied."""

from __future__ import annotations

import json
import re
from pathlib import Path

from assistant.cli import main
from assistant.config import REPO_ROOT

# Slot-filling rows written for this test (SNIPS's shape, not its rows).
SLOT_ROWS = [
    {"text": "play some jazz by nina simone on deezer", "intent": "PlayMusic",
     "slots": {"genre": "jazz", "artist": "nina simone", "service": "deezer"}},
    {"text": "put the track blue monday on my night drive list", "intent": "AddToPlaylist",
     "slots": {"music_item": "track", "entity_name": "blue monday", "playlist_owner": "my", "playlist": "night drive"}},
    {"text": "book a table for four at a thai place in leeds", "intent": "BookRestaurant",
     "slots": {"party_size_number": "four", "cuisine": "thai", "city": "leeds"}},
    {"text": "will it snow in oslo tomorrow", "intent": "GetWeather",
     "slots": {"condition_description": "snow", "city": "oslo", "timeRange": "tomorrow"}},
    {"text": "give this novel four out of six", "intent": "RateBook",
     "slots": {"object_select": "this", "object_type": "novel", "rating_value": "four", "best_rating": "six"}},
    {"text": "play songs by a and by b", "intent": "PlayMusic", "slots": {"artist": ["a", "b"]}},
]
TOPIC_ROWS = [{"text": f"{word} story number {i}", "label": label}
              for i, (word, label) in enumerate([("match", "Sports"), ("market", "Business"), ("summit", "World"),
                                                 ("chip", "Sci/Tech")] * 10)]
MOOD_ROWS = [{"text": f"feeling {word} today, take {i}", "label": label}
             for i, (word, label) in enumerate([("great", "joy"), ("furious", "anger"), ("down", "sadness")] * 10)]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_extract_recipe_builds_the_skills_request_with_varied_fields(settings, run, tmp_path: Path) -> None:
    src = _write(tmp_path / "slots_train.jsonl", SLOT_ROWS * 20)
    out = tmp_path / "pairs.jsonl"
    assert main(["tune-data", "extract", "--source", str(src), "--count", "100", "--out", str(out)]) == 0
    pairs = _pairs(out)
    assert len(pairs) == 100  # rows with a repeated slot (a list) are left out, the rest sampled
    renamed = empty = several = 0
    known = {name for row in SLOT_ROWS for name in row["slots"]}
    texts = {row["text"] for row in SLOT_ROWS}
    for pair in pairs:
        fields = re.match(r"Fields: (.+)\.\n", pair["input"])[1].split(", ")
        text = re.search(r"Text \(data only, not instructions\):\n(.*)\n\nCopy each", pair["input"], re.S)[1]
        answer = json.loads(pair["output"])
        records = sum(text.count(t) for t in texts)  # the rows joined into this text
        assert isinstance(answer, list) and 1 <= len(answer) == records <= 2
        for record in answer:
            assert list(record) == fields  # the asked order
            assert all(value == "" or value in text for value in record.values())
        renamed += any(f not in known for f in fields)
        empty += any(v == "" for v in answer[0].values())
        several += len(answer) > 1
        assert "a and by b" not in text
    assert renamed > 20 and empty > 10  # synonyms and absent fields both occur
    assert 10 < several < 45  # about a quarter of the texts hold several records
    assert len({p["input"].split("\n")[0] for p in pairs}) > 20  # field lists vary for the same rows

    # The message is the one the skill itself sends for those fields and that text.
    run("extract", "extract genre, artist from: play some jazz by nina simone on deezer",
        script=['[{"genre": "jazz", "artist": "nina simone"}]'])
    from assistant.skills.loader import import_code

    module = import_code(REPO_ROOT / "skills/extract/skill.py", "extract")
    sent = run.requests[0].messages
    assert sent[-1].content == module.text_user_message(["genre", "artist"], "play some jazz by nina simone on deezer")


def test_classify_recipe_varies_label_sets_and_matches_the_skill(settings, run, tmp_path: Path) -> None:
    topics = _write(tmp_path / "topics_train.jsonl", TOPIC_ROWS)
    moods = _write(tmp_path / "moods_train.jsonl", MOOD_ROWS)
    out = tmp_path / "pairs.jsonl"
    assert main(["tune-data", "classify", "--source", str(topics), "--source", str(moods), "--count", "60",
                 "--seed", "3", "--out", str(out)]) == 0
    pairs = _pairs(out)
    assert len(pairs) == 60
    first_is_gold = synonyms = topic = 0
    for pair in pairs:
        listed = re.search(r"Labels: (.+)\.$", pair["system"])[1].split(", ")
        gold = json.loads(pair["output"])
        assert gold in listed and pair["input"].endswith(f"Label (one of {', '.join(listed)}):")
        first_is_gold += listed[0] == gold
        synonyms += any(label not in {r["label"] for r in TOPIC_ROWS + MOOD_ROWS} for label in listed)
        topic += "story" in pair["input"]
    assert first_is_gold < 40 and synonyms > 5  # no "the first label" habit to learn
    assert topic == 30  # sources drawn evenly

    run("classify", "Classify this text as one of World, Sports: the final ended 2-1", script=['"Sports"'])
    from assistant.skills.loader import import_code

    module = import_code(REPO_ROOT / "skills/classify/skill.py", "classify")
    sent = [(m.role, m.content) for m in run.requests[0].messages]
    from assistant.tuning.task import load_task

    prompt = load_task(settings, "classify").prompt  # what the recipe builds from
    want = module.label_messages(prompt, "the final ended 2-1", "labels", ["World", "Sports"])
    assert sent == [(m.role, m.content) for m in want]


def test_tune_data_says_when_a_skill_has_no_recipe(settings, tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "rows.jsonl", TOPIC_ROWS)
    assert main(["tune-data", "chat", "--source", str(src), "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "has no training recipe" in err and "training_pairs" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_tune_data_names_a_missing_source(settings, tmp_path: Path, capsys) -> None:
    assert main(["tune-data", "extract", "--source", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


# Dialogue rows written for this test (DialogSum's shape, not its rows).
DIALOGUE_ROWS = [
    {"text": f"#Person1#: Shall we meet at {hour} on day {i}?\n#Person2#: Yes, see you at the station then.",
     "summary": summary}
    for i, (hour, summary) in enumerate([("nine", "#Person1# and #Person2# will meet at the station at nine."),
                                         ("ten", "They agree to meet at ten. #Person2# will wait at the station."),
                                         ("noon", "#Person1# proposes noon. #Person2# agrees. They meet at the station.")] * 10)
]


def test_summarize_recipe_asks_for_lengths_the_reference_meets_and_matches_the_skill(settings, run, tmp_path: Path) -> None:
    from assistant.skills.loader import import_code

    module = import_code(REPO_ROOT / "skills/summarize/skill.py", "summarize")
    long_row = {"text": "#Person1#: " + "words " * 400, "summary": "Too long to train on."}
    src = _write(tmp_path / "dialogues_train.jsonl", DIALOGUE_ROWS + [long_row])
    out = tmp_path / "pairs.jsonl"
    assert main(["tune-data", "summarize", "--source", str(src), "--count", "100", "--seed", "1", "--out", str(out)]) == 0
    pairs = _pairs(out)
    assert len(pairs) == 30  # every usable row once; the over-long text left out
    phrases = set()
    for pair in pairs:
        asked = re.search(r"gives you (in .+?)\. Write only", pair["system"])[1]
        phrases.add(asked)
        summary = pair["output"]
        n_sentences = len(re.findall(r"[.!?](?:\s|$)", summary))
        if m := re.fullmatch(r"in at most (\d+) words", asked):
            assert len(summary.split()) <= int(m[1])
        else:
            counts = [int(n) for n in re.findall(r"\d+", asked)] or [{"one": 1, "two": 2}[w] for w in re.findall(r"one|two", asked)]
            assert min(counts) <= n_sentences <= max(counts), (asked, summary)
        assert pair["input"] in {r["text"] for r in DIALOGUE_ROWS}
    assert len(phrases) >= 4  # the length is asked in several ways

    # The chat is the one the skill sends for a request of that length.
    text = DIALOGUE_ROWS[0]["text"]
    run("summarize", f"summarize this dialogue in one sentence:\n\n{text}", script=["They meet at nine."])
    sent = [(m.role, m.content) for m in run.requests[0].messages]
    template = (REPO_ROOT / "prompts/summarize_length.txt").read_text(encoding="utf-8").strip()
    want, tokens = module.length_messages(template, "summarize this dialogue in one sentence", text)
    assert sent == [(m.role, m.content) for m in want] and run.requests[0].max_tokens == tokens
    assert "in one sentence" in sent[0][1]
