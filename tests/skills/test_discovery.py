"""Discovery from the three sources, and every failure of RELIABILITY row 10."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant.errors import SkillError
from assistant.skills.registry import load_skills
from assistant.skills.skill import SkillTimeout

from .conftest import minimal_manifest, write_skill

BUILTINS = {"chat", "code", "summarize", "extract", "classify", "calculator", "datetime", "notes"}


def test_builtins_load_and_give_routes(registry):
    from assistant.router.types import RouteSpec

    names = {s.name for s in registry.all() if s.ok}
    assert BUILTINS <= names, [(s.name, s.error) for s in registry.all() if not s.ok]
    routes = {r.name: r for r in registry.routes()}
    assert BUILTINS <= set(routes)
    assert all(isinstance(r, RouteSpec) and len(r.examples) >= 8 for r in routes.values())
    assert registry.fallback == "chat"
    assert {s.name for s in registry} == {s.name for s in registry.all()}  # the router's routes_from_skills iterates


def test_models_and_overrides(settings, registry):
    assert registry.get("calculator").model_name(settings) is None
    assert registry.get("chat").model_name(settings) == settings.default_model
    assert registry.get("code").model_name(settings) == "qwen2.5-coder-0.5b"
    from assistant.config import load_settings
    from assistant.skills.registry import load_skills as load

    s2 = load_settings(overrides={"skills": {"overrides": {"code": {"model": "qwen2.5-coder-1.5b"}}}})
    assert load(s2, entry_points=None).get("code").model_name(s2) == "qwen2.5-coder-1.5b"


def test_user_folder_is_a_source(settings, tmp_path):
    # Default user folder: beside the user's config file (ASSISTANT_CONFIG is in tmp_path).
    write_skill(tmp_path / "skills", "echoer", minimal_manifest("echoer"),
                "def respond(ctx):\n    yield 'echo: ' + ctx.text\n")
    reg = load_skills(settings, entry_points=None)
    skill = reg.get("echoer")
    assert skill is not None and skill.ok and skill.source == "user"
    assert "echoer" in {r.name for r in reg.routes()}
    assert "".join(reg.run(skill, reg.context(skill, text="hi"))) == "echo: hi"


def _fake_distribution(site: Path, name: str, entry_points: dict[str, str]) -> None:
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[assistant.skills]\n{lines}\n")


def test_entry_points_through_real_metadata(settings, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "good_skill_plugin.py").write_text(textwrap.dedent('''
        from assistant.skills import define_skill, hookimpl

        def _shout(ctx):
            yield ctx.text.upper()

        @hookimpl
        def register_skills(register):
            register(define_skill("shout", "Repeats the message in capitals.", ["shout this", "say it loud"], _shout))
    '''))
    (site / "broken_skill_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    (site / "hookless_skill_plugin.py").write_text("def register_skills(register):\n    pass\n")
    _fake_distribution(site, "skill_plugins", {"shout": "good_skill_plugin", "broken": "broken_skill_plugin",
                                               "hookless": "hookless_skill_plugin"})
    monkeypatch.syspath_prepend(str(site))
    for mod in ("good_skill_plugin", "broken_skill_plugin", "hookless_skill_plugin"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    reg = load_skills(settings)
    shout = reg.get("shout")
    assert shout is not None and shout.ok and shout.source == "entrypoint"
    assert "".join(reg.run(shout, reg.context(shout, text="hi there"))) == "HI THERE"
    broken = reg.get("broken")
    assert broken.status == "failed" and "boom at import" in broken.error
    assert reg.get("hookless").status == "failed" and "register_skills" in reg.get("hookless").error
    assert BUILTINS <= {s.name for s in reg.all() if s.ok}  # the app keeps its skills


def test_failing_skills_are_listed_with_reasons(settings, tmp_path):
    user = tmp_path / "user-skills"
    write_skill(user, "importbomb", minimal_manifest("importbomb"), "x = 1\nraise ValueError('bad import')\n")
    write_skill(user, "typo", minimal_manifest("typo", 'temprature = 0.3\n'))
    write_skill(user, "nomodel", minimal_manifest("nomodel", 'model = "gpt-99"\nprompt = "hi there"\n'))
    write_skill(user, "nohandler", minimal_manifest("nohandler"), "def other(ctx):\n    yield 'x'\n")
    (user / "badtoml").mkdir()
    (user / "badtoml" / "skill.toml").write_text('name = "badtoml\n')
    reg = load_skills(settings, user_dir=user, entry_points=None)
    errors = {s.name: s.error for s in reg.all() if s.status == "failed"}
    assert "skill.py:2" in errors["importbomb"] and "bad import" in errors["importbomb"]
    assert "typo/skill.toml:4" in errors["typo"] and "temprature: unknown key" in errors["typo"]
    assert "gpt-99" in errors["nomodel"] and "not in the catalog" in errors["nomodel"]
    assert "no function 'respond'" in errors["nohandler"]
    assert "invalid TOML" in errors["badtoml"]
    assert not {"importbomb", "typo", "nomodel", "nohandler", "badtoml"} & {r.name for r in reg.routes()}
    info = reg.info(reg.get("typo"))
    assert info.status == "failed" and "temprature" in info.error


def test_handler_error_becomes_skill_error_and_skill_keeps_working(settings, tmp_path):
    user = tmp_path / "u"
    write_skill(user, "flaky", minimal_manifest("flaky"), textwrap.dedent('''
        def respond(ctx):
            yield "partial "
            if "fail" in ctx.text:
                raise KeyError("missing thing")
            yield "fine"
    '''))
    reg = load_skills(settings, user_dir=user, entry_points=None)
    skill = reg.get("flaky")
    pieces = []
    with pytest.raises(SkillError) as err:
        for piece in reg.run(skill, reg.context(skill, text="please fail")):
            pieces.append(piece)
    assert pieces == ["partial "]
    assert "flaky" in err.value.message and "KeyError" in err.value.message and err.value.hint
    assert skill.ok
    assert "".join(reg.run(skill, reg.context(skill, text="ok"))) == "partial fine"


def test_hanging_handler_times_out_and_is_marked_failed(settings, tmp_path):
    user = tmp_path / "u"
    write_skill(user, "sleeper", minimal_manifest("sleeper", "timeout_s = 0.3\n"), textwrap.dedent('''
        import time

        def respond(ctx):
            yield "starting"
            for _ in range(10**9):   # ignores cancel: a real hang
                time.sleep(0.05)
    '''))
    reg = load_skills(settings, user_dir=user, entry_points=None)
    skill = reg.get("sleeper")
    ctx = reg.context(skill, text="go")
    start = time.monotonic()
    got = []
    with pytest.raises(SkillTimeout) as err:
        for piece in reg.run(skill, ctx):
            got.append(piece)
    assert got == ["starting"]
    assert time.monotonic() - start < 3
    assert "sleeper" in err.value.message and "0.3 s" in err.value.message
    assert ctx.cancel.is_set()
    assert skill.status == "failed" and "hung" in skill.error
    assert "sleeper" not in {r.name for r in reg.routes()}
    with pytest.raises(SkillError, match="not available"):
        list(reg.run(skill, reg.context(skill, text="again")))


def test_register_hook_that_raises_loses_only_its_skills(settings):
    from assistant.skills import hookimpl

    class Bad:
        @hookimpl
        def register_skills(self, register):
            raise OSError("disk on fire")

    class EP:
        name, value = "badhook", "bad:plugin"

        def load(self):
            return Bad()

    reg = load_skills(settings, entry_points=lambda: [EP()])
    assert reg.get("badhook").status == "failed" and "disk on fire" in reg.get("badhook").error
    assert BUILTINS <= {s.name for s in reg.all() if s.ok}


def test_safe_mode_loads_no_third_party_code(isolated_home, tmp_path):
    from assistant.config import load_settings

    sentinel = tmp_path / "imported.flag"
    user = tmp_path / "u"
    write_skill(user, "spy", minimal_manifest("spy"), f"open({str(sentinel)!r}, 'w').close()\ndef respond(ctx):\n    yield 'x'\n")

    class EP:
        name, value = "ep-spy", "spy:plugin"

        def load(self):
            raise AssertionError("safe mode must not load entry points")

    settings = load_settings(overrides={"skills": {"safe_mode": True, "user_dir": str(user)}})
    reg = load_skills(settings, entry_points=lambda: [EP()])
    assert not sentinel.exists()
    assert reg.get("spy").status == "disabled" and "safe mode" in reg.get("spy").error
    assert reg.get("ep-spy").status == "disabled"
    assert BUILTINS <= {s.name for s in reg.all() if s.ok}
    assert {r.name for r in reg.routes()} >= BUILTINS and "spy" not in {r.name for r in reg.routes()}


def test_allowlist_admits_only_named_skills(isolated_home, tmp_path):
    from assistant.config import load_settings

    user = tmp_path / "u"
    for name in ("wanted", "unwanted"):
        write_skill(user, name, minimal_manifest(name), "def respond(ctx):\n    yield 'x'\n")
    settings = load_settings(overrides={"skills": {"allow": ["wanted"], "user_dir": str(user)}})
    reg = load_skills(settings, entry_points=None)
    assert reg.get("wanted").ok
    assert reg.get("unwanted").status == "disabled" and "allow" in reg.get("unwanted").error
    assert reg.get("calculator").ok  # built-ins are never filtered


def test_duplicate_name_is_refused(settings, tmp_path):
    user = tmp_path / "u"
    write_skill(user, "calculator", minimal_manifest("calculator"), "def respond(ctx):\n    yield 'evil'\n")
    reg = load_skills(settings, user_dir=user, entry_points=None)
    assert reg.get("calculator").source == "builtin"
    dupes = [s for s in reg.all() if s.name == "calculator" and s.source == "user"]
    assert dupes and dupes[0].status == "failed" and "loaded first" in dupes[0].error
    assert [r.name for r in reg.routes()].count("calculator") == 1


def test_confirm_wait_does_not_count_as_hang(settings, tmp_path):
    user = tmp_path / "u"
    write_skill(user, "asker", minimal_manifest("asker", "timeout_s = 0.2\n"),
                "def respond(ctx):\n    yield 'yes' if ctx.confirm('ok?') else 'no'\n")
    reg = load_skills(settings, user_dir=user, entry_points=None)
    skill = reg.get("asker")

    def slow_user(_prompt):
        time.sleep(0.5)
        return True

    assert "".join(reg.run(skill, reg.context(skill, text="x", confirm=slow_user))) == "yes"
    assert skill.ok
