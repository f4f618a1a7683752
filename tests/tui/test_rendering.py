"""RELIABILITY row 7: markup, ANSI escapes, NUL and other controls are shown literally."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from assistant.tui.widgets.chat_message import AssistantMessage, NoteMessage, UserMessage
from assistant.tui.widgets.text import safe_text

from .conftest import make_app, make_pipeline, ready, send, turn_idle, wait_until

HOSTILE = [
    "[/",
    "[bold",
    "[/]",
    "[a[0]]",
    "[bold red]not bold[/bold red] [link=http://x]y[/link] [@click=app.quit]quit[/]",
    "\x1b[31mred?\x1b[0m \x1b]0;title\x07 \x1b[2J",
    "nul\x00byte and bell\x07 and \x9b31m C1",
    "carriage\rreturn \u202eevil\u202c \ud800 lone surrogate",
    "```\nunclosed [code\n",
    "| a | b |\n|---|---|\n| [x] | \x00 |",
]


def screen_text(app) -> str:
    """Everything visible in the chat log, via each widget's rendering."""
    return "\n".join(str(w.render()) for w in app.chat.log_view.query("UserMessage, NoteMessage, AssistantMessage Static"))


def test_safe_text_leaves_no_control_characters():
    out = safe_text("a\x00b\x1b[31mc\x7fd\x9be\r\nf\tg")
    assert out == "a␀b␛[31mc␡d\\x9be\nf\tg"
    assert safe_text("[bold]x[/]") == "[bold]x[/]"


@given(st.text())
def test_safe_text_output_is_printable_except_newline_and_tab(text):
    out = safe_text(text)
    assert all(c.isprintable() or c in "\n\t" or c in "\u200b" or not _is_control(c) for c in out)
    out.encode("utf-8")  # no lone surrogates survive


def _is_control(c: str) -> bool:
    import unicodedata

    return unicodedata.category(c) in ("Cc", "Cs")


async def test_hostile_text_from_user_and_model_is_shown_literally():
    app, pipe = make_app(make_pipeline(script=lambda req: req.messages[-1].content))
    async with app.run_test(size=(120, 60)) as pilot:
        await ready(pilot)
        await send(pilot, "/skill chat")  # the model (echoing) answers every message
        for sent, text in enumerate(HOSTILE, 1):
            await send(pilot, text)
            await wait_until(pilot, lambda n=sent: turn_idle(app) and len(app.chat.query(AssistantMessage)) == n)
        typed = [t.replace("\r", "\n") for t in HOSTILE]  # the TextArea normalizes line endings
        users = list(app.chat.query(UserMessage))
        assert [u.text for u in users] == typed
        assert [r.text for r in app.chat.query(AssistantMessage)] == typed
        for user, text in zip(users, typed, strict=True):
            assert str(user.render()) == safe_text(text)
        app.export_screenshot()  # a full render through the compositor
        shown = screen_text(app)
        assert "[@click=app.quit]quit[/]" in shown and "␛[31mred?" in shown and "nul␀byte" in shown
        assert app.is_running  # nothing crashed, and the link markup did not quit the app


class Harness(App[None]):
    """Mounts the message widgets directly, many at a time."""

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="log")


async def _render_all(texts: list[str]) -> int:
    app = Harness()
    async with app.run_test(size=(80, 40)) as pilot:
        log = app.query_one("#log")
        streamed = AssistantMessage()
        await log.mount_all([UserMessage(t) for t in texts] + [NoteMessage(t, t, "error") for t in texts]
                            + [AssistantMessage(t, skill=t, model=t, status="complete") for t in texts] + [streamed])
        for t in texts:
            await streamed.write(t)
        await streamed.finish("cancelled", {"tokens_per_s": 1.0}, error=texts[0], hint=texts[-1])
        await pilot.pause()
        assert streamed.text == "".join(texts)
        rendered = 0
        for widget in app.query("UserMessage, NoteMessage, AssistantMessage Static"):
            widget.render()
            rendered += 1
        app.export_screenshot()  # a full render through the compositor
        return rendered


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200) | st.sampled_from(HOSTILE), min_size=1, max_size=4))
def test_generated_text_never_breaks_the_message_widgets(texts):
    assert asyncio.run(_render_all(texts)) >= 3 * len(texts)


def test_the_badge_names_an_adapter_by_its_file_name():
    from assistant.tui.widgets.chat_message import adapter_label

    assert adapter_label("/home/u/assistant/skills/extract/extract-gemma-3-270m.lora.gguf") == "extract-gemma-3-270m"
    assert adapter_label("C:\\adapters\\mine.gguf") == "mine"
    assert adapter_label("code-lora") == "code-lora"
