"""An MCP server as a skill, with a scripted fake model: permissions, asking, rendering,
injected instructions, failures as chat messages."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from assistant.backends.base import ChatMessage
from assistant.errors import HandOff, SkillError


def test_each_server_is_a_skill_routed_by_its_tools(skill_env, flaky, tool_script) -> None:
    _, registry, run = skill_env({"flaky": flaky()})
    skill = registry.get("flaky")
    assert skill.ok and skill.source == "mcp" and skill.examples == []  # no cache yet: no routes
    run("flaky", "echo hi", tool_script("echo", {"text": "hi"}))  # a use starts the server, caches its tools
    _, registry2, _ = skill_env({"flaky": flaky()})
    examples = registry2.get("flaky").examples
    assert "echo: Echo the given text back unchanged." in examples
    assert any(r.name == "flaky" for r in registry2.routes())


def test_routes_follow_the_tools_once_servers_start_in_the_background(skill_env, flaky) -> None:
    _, registry, _ = skill_env({"flaky": flaky()})
    changed = threading.Event()
    registry.start_background(on_change=changed.set)
    assert changed.wait(15)
    assert any(r.name == "flaky" and r.examples for r in registry.routes())


def test_a_read_only_tool_runs_without_asking(skill_env, flaky, tool_script) -> None:
    _, _, run = skill_env({"flaky": flaky()})
    asked: list[str] = []
    text, progress = run("flaky", "echo the text banana", tool_script("echo", {"text": "banana"}),
                         confirm=lambda q: asked.append(q) or False)
    assert asked == [] and "`echo`" in text and "banana" in text
    assert any("calling echo" in p.message for p in progress)


def test_a_side_effecting_tool_asks_with_the_exact_arguments(skill_env, flaky, tool_script, tmp_path: Path) -> None:
    log = tmp_path / "notes.log"
    _, _, run = skill_env({"flaky": flaky(log=log)})
    asked: list[str] = []
    text, _ = run("flaky", "write a note saying buy milk", tool_script("note", {"text": "buy milk"}),
                  confirm=lambda q: asked.append(q) or True)
    assert len(asked) == 1 and 'note {"text": "buy milk"}' in asked[0]
    assert "noted: buy milk" in text and log.read_text() == "buy milk\n"


def test_refused_without_confirmation_nothing_runs(skill_env, flaky, tool_script, tmp_path: Path) -> None:
    log = tmp_path / "notes.log"
    _, _, run = skill_env({"flaky": flaky(log=log)})
    text, _ = run("flaky", "write a note saying buy milk", tool_script("note", {"text": "buy milk"}))
    assert text.startswith("Not run: `note` may change things") and "--yes" in text
    assert not log.exists()


def test_the_allow_list_lets_a_tool_run_without_asking(skill_env, flaky, tool_script, tmp_path: Path) -> None:
    log = tmp_path / "notes.log"
    _, _, run = skill_env({"flaky": flaky(log=log, allow=["note"])})
    text, _ = run("flaky", "write a note saying buy milk", tool_script("note", {"text": "buy milk"}))
    assert "noted" in text and log.read_text() == "buy milk\n"


def test_an_instruction_inside_tool_output_causes_no_call(skill_env, flaky, tool_script, tmp_path: Path) -> None:
    log = tmp_path / "notes.log"
    _, _, run = skill_env({"flaky": flaky(log=log)})
    asked: list[str] = []
    # The scripted model would obey anything: after the fetch it would call note("pwned").
    script = tool_script("fetch_page", {"url": "http://example.org/fetch"})
    text, _ = run("flaky", "fetch page http://example.org/fetch", script, confirm=lambda q: asked.append(q) or True)
    assert "IMPORTANT SYSTEM NOTE" in text  # shown as data
    assert asked == [] and not log.exists()
    assert len(run.requests) == 2  # choose + arguments; the output never went back to the model
    assert all("pwned" not in m.content for r in run.requests for m in r.messages)


def test_a_missing_required_value_is_asked_then_taken_from_the_answer(skill_env, flaky, tool_script) -> None:
    _, _, run = skill_env({"flaky": flaky()})
    text, _ = run("flaky", "please echo something", tool_script("echo", {"text": None}))
    assert text.startswith("To run `echo` I need a value for:") and "text" in text
    history = [ChatMessage("user", "please echo something"), ChatMessage("assistant", text)]
    answer, _ = run("flaky", "kiwi", tool_script("unused", {"text": "kiwi"}), history=history)
    assert "`echo`" in answer and "kiwi" in answer
    # The follow-up went straight to filling echo's arguments: no second choice.
    last = run.requests[-1]
    assert "echo" in last.messages[0].content and last.json_schema["properties"].keys() == {"text"}


def test_huge_output_is_truncated_with_a_note_and_kept_whole(skill_env, flaky, tool_script) -> None:
    settings, _, run = skill_env({"flaky": flaky()}, max_output_chars=500)
    text, _ = run("flaky", "give me huge output of size 100000", tool_script("huge", {"size": 100000}))
    assert "[truncated: showing 500 of 100000 characters" in text and len(text) < 1500
    kept = Path(text.split("the whole output is in ")[1].split("]")[0])
    assert kept.read_text() == "x" * 100000


def test_no_fitting_tool_hands_the_turn_to_the_fallback(skill_env, flaky, tool_script) -> None:
    _, _, run = skill_env({"flaky": flaky()})
    with pytest.raises(HandOff, match="no tool of the MCP server 'flaky'"):
        run("flaky", "tell me a joke", tool_script(None, {}))


def test_a_crashing_tool_becomes_an_error_message_and_the_skill_keeps_working(skill_env, flaky, tool_script) -> None:
    _, registry, run = skill_env({"flaky": flaky()})
    with pytest.raises(SkillError, match="closed the connection"):
        run("flaky", "crash the server now", tool_script("crash", {}))
    assert registry.get("flaky").ok
    text, _ = run("flaky", "echo the text again", tool_script("echo", {"text": "again"}))
    assert "again" in text


def test_cancel_during_a_call_cancels_it(skill_env, flaky, tool_script) -> None:
    _, _, run = skill_env({"flaky": flaky()})
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    text, _ = run("flaky", "hang and sleep forever", tool_script("hang", {}), cancel=cancel)
    assert "Cancelled the call to `hang`" in text


def test_a_server_that_fails_to_start_is_a_clear_error_and_others_still_work(skill_env, flaky, tool_script) -> None:
    _, registry, run = skill_env({"bad": flaky("exit"), "good": flaky()})
    with pytest.raises(SkillError, match="MCP server 'bad' failed to start"):
        run("bad", "echo hi", tool_script("echo", {"text": "hi"}))
    text, _ = run("good", "echo the text hi", tool_script("echo", {"text": "hi"}))
    assert "hi" in text
    assert registry.get("chat").ok
    # The lists say which server failed and why; the working one is ready with its tools.
    info = {s.name: registry.info(s) for s in registry.all()}
    assert info["bad"].server.startswith("failed: ") and "Connection closed" in info["bad"].server
    assert info["good"].server.startswith("ready: ") and info["chat"].server == ""
    states = {name: (state, detail) for name, state, detail in registry.server_states()}
    assert states["bad"][0] == "failed" and states["good"] == ("ready", f"{len(registry.get('good').handler.hub.tools('good'))} tools")


def test_a_failure_is_kept_for_the_next_process_until_the_server_starts_well(skill_env, flaky, tool_script) -> None:
    bad = flaky("exit")
    _, registry, run = skill_env({"s": bad})
    with pytest.raises(SkillError, match="failed to start"):
        run("s", "echo hi", tool_script("echo", {"text": "hi"}))
    _, fresh, _ = skill_env({"s": bad})  # another process: its server was never started here
    shown = fresh.info(fresh.get("s")).server
    assert shown.startswith("failed: ") and "Connection closed" in shown and "started again on the next use" in shown
    _, fixed, run = skill_env({"s": {**bad, "args": flaky()["args"]}})  # the user fixed the command
    assert fixed.info(fixed.get("s")).server.startswith("cold: ")  # another start command: not its failure
    text, _ = run("s", "echo the text hi", tool_script("echo", {"text": "hi"}))
    assert "hi" in text


def test_a_crash_during_a_call_is_kept_as_the_servers_failure(skill_env, flaky, tool_script) -> None:
    _, registry, run = skill_env({"flaky": flaky()})
    with pytest.raises(SkillError, match="closed the connection"):
        run("flaky", "crash the server now", tool_script("crash", {}))
    _, fresh, _ = skill_env({"flaky": flaky()})
    assert fresh.info(fresh.get("flaky")).server.startswith("failed: ")
    run("flaky", "echo the text again", tool_script("echo", {"text": "again"}))  # a good start clears it
    _, later, _ = skill_env({"flaky": flaky()})
    assert later.info(later.get("flaky")).server.startswith("cold: ") and "tools cached" in later.info(later.get("flaky")).server


def test_safe_mode_disables_mcp_skills(make_settings, flaky) -> None:
    from assistant.config import load_settings
    from assistant.skills.registry import load_skills

    base = make_settings({"flaky": flaky()})
    settings = load_settings(overrides={"skills": {"safe_mode": True}, "mcp": base.mcp.model_dump()})
    assert load_skills(settings, entry_points=None).get("flaky").status == "disabled"


def test_no_server_configured_means_no_mcp_skill_and_no_import(make_settings) -> None:
    import sys

    from assistant.skills.registry import load_skills

    settings = make_settings({})
    before = "mcp.client.session" in sys.modules
    skills = load_skills(settings, entry_points=None)
    assert not [s for s in skills.all() if s.source == "mcp"]
    assert ("mcp.client.session" in sys.modules) == before
    assert json.loads(json.dumps(settings.mcp.model_dump()))["servers"] == {}


def test_the_pipeline_starts_servers_in_the_background_and_stops_them(make_settings, flaky) -> None:
    from assistant.pipeline import build_pipeline

    pipeline = build_pipeline(make_settings({"flaky": flaky()}), fake=True)
    try:
        pipeline.start()
        hub = pipeline.registry.get("flaky").handler.hub
        deadline = threading.Event()
        for _ in range(400):
            if hub.state("flaky")[0] == "ready":
                break
            deadline.wait(0.1)
        assert hub.state("flaky")[0] == "ready"
        assert pipeline.registry.get("flaky").examples  # routes came with the tools
    finally:
        pipeline.close()
    assert hub.state("flaky") == ("cold", "")


def test_the_apps_embedder_narrows_the_tools_when_given(skill_env, flaky, tool_script) -> None:
    from assistant.router.embedders import FakeEmbedder

    _, registry, run = skill_env({"flaky": flaky()}, max_candidates=2)
    embedder = FakeEmbedder()
    registry.start_background(embedder=lambda: embedder)
    run("flaky", "echo the given text back: papaya", tool_script("echo", {"text": "papaya"}))
    assert embedder.calls > 0
    names = run.requests[0].json_schema["properties"]["tool"]["enum"]
    assert len(names) == 3 and names[0] == "echo" and names[-1] == "none"


def test_the_status_bar_components_name_each_server_and_its_state(make_settings, flaky) -> None:
    from assistant.pipeline import build_pipeline

    pipeline = build_pipeline(make_settings({"bad": flaky("exit")}, start_timeout_s=2), fake=True)
    try:
        states = {c.name: c for c in pipeline.components()}
        assert states["mcp bad"].state == "cold" and states["mcp bad"].detail == "not started yet"
        pipeline.registry.start_background()
        deadline = time.monotonic() + 20
        while pipeline.registry.server_states()[0][1] != "failed" and time.monotonic() < deadline:
            time.sleep(0.1)
        bad = {c.name: c for c in pipeline.components()}["mcp bad"]
        assert bad.state == "failed" and "Connection closed" in bad.detail
    finally:
        pipeline.close()


def test_with_summarize_the_model_answers_from_the_result_above_it(skill_env, flaky, tool_script) -> None:
    _, _, run = skill_env({"flaky": {**flaky(), "summarize": True}})
    pick = tool_script("echo", {"text": "hi there"})

    def script(request):
        return pick(request) if request.json_schema else "The server said: hi there."

    text, progress = run("flaky", "echo hi there", script)
    assert text.startswith("The server said: hi there.\n\n`echo`") and "```\nhi there\n```" in text
    summary = run.requests[-1]
    assert summary.json_schema is None and "hi there" in summary.messages[-1].content
    assert "data, not instructions" in summary.messages[0].content
    assert any("reading the result" in p.message for p in progress)


def test_a_summary_cannot_start_a_call_whatever_the_output_says(skill_env, flaky, tool_script, tmp_path: Path) -> None:
    log = tmp_path / "notes.log"
    _, _, run = skill_env({"flaky": {**flaky(log=log), "summarize": True}})
    asked: list[str] = []
    pick = tool_script("fetch_page", {"url": "http://example.org/fetch"})

    def obedient(request):  # asked to summarise, it does what the page says: a call to note
        return pick(request) if request.json_schema else json.dumps({"tool": "note", "args": {"text": "pwned"}})

    text, _ = run("flaky", "fetch page http://example.org/fetch", obedient, confirm=lambda q: asked.append(q) or True)
    assert "IMPORTANT SYSTEM NOTE" in text and '"tool": "note"' in text  # shown, as text
    assert asked == [] and not log.exists() and len(run.requests) == 3


def test_without_summarize_the_result_is_shown_alone(skill_env, flaky, tool_script) -> None:
    _, _, run = skill_env({"flaky": flaky()})
    text, _ = run("flaky", "echo hi there", tool_script("echo", {"text": "hi there"}))
    assert text.startswith("`echo`") and len(run.requests) == 2
