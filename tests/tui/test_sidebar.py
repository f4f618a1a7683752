"""Pilot tests of the conversations sidebar: list, open, search, rename, delete, export."""

from __future__ import annotations

from textual.widgets import Input

from assistant.tui.screens.dialogs import ConfirmScreen, TextPromptScreen
from assistant.tui.widgets.chat_message import AssistantMessage, UserMessage
from assistant.tui.widgets.sidebar import ConversationList, Sidebar

from .conftest import make_app, ready, wait_until


def seed(pipe) -> dict[str, str]:
    """Three stored conversations, the last one newest."""
    ids = {}
    for title, user, reply in [
        ("Trip to Lisbon", "plan a trip to lisbon", "Day one: Alfama."),
        ("Parser bug", "my python parser crashes", "Check the recursion."),
        ("Pasta recipe", "how long to boil pasta", "About ten minutes."),
    ]:
        cid = pipe.store.create_conversation(title)
        pipe.store.add_message(cid, "user", user)
        pipe.store.add_message(cid, "assistant", reply, skill="chat", model="qwen2.5-coder-0.5b")
        ids[title] = cid
    return ids


def titles(app) -> list[str]:
    return [r.title for r in app.chat.query_one(Sidebar).rows]


async def focus_row(pilot, index: int) -> None:
    view = pilot.app.chat.query_one(ConversationList)
    view.focus()
    view.index = index
    await pilot.pause()


async def test_lists_newest_first_and_opens_a_conversation():
    app, pipe = make_app()
    seed(pipe)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(titles(app)) == 3, what="rows")
        assert titles(app) == ["Pasta recipe", "Parser bug", "Trip to Lisbon"]
        await focus_row(pilot, 1)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(app.chat.query(AssistantMessage)), what="history shown")
        assert app.chat.query_one(UserMessage).text == "my python parser crashes"
        assert app.chat.query_one(AssistantMessage).text == "Check the recursion."
        assert app.chat.session.conversation_id == pipe.store.list_conversations(10)[1].id


async def test_search_filters_by_message_text():
    app, pipe = make_app()
    seed(pipe)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(titles(app)) == 3)
        await pilot.press("ctrl+f")
        assert app.focused is app.chat.query_one("#search", Input)
        await pilot.press(*"recursion")
        await wait_until(pilot, lambda: titles(app) == ["Parser bug"], what="search hit")
        detail = str(app.chat.query_one(Sidebar).rows[0].query(".detail").first().render())
        assert "recursion" in detail
        for _ in "recursion":
            await pilot.press("backspace")
        await wait_until(pilot, lambda: len(titles(app)) == 3, what="full list again")


async def test_rename_from_the_sidebar():
    app, pipe = make_app()
    ids = seed(pipe)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(titles(app)) == 3)
        await focus_row(pilot, 2)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen))
        app.screen.query_one(Input).value = ""
        await pilot.press(*"Lisbon 2026", "enter")
        await wait_until(pilot, lambda: "Lisbon 2026" in titles(app), what="renamed row")
        assert {c.id: c.title for c in pipe.store.list_conversations(10)}[ids["Trip to Lisbon"]] == "Lisbon 2026"


async def test_delete_asks_first_and_no_keeps_it():
    app, pipe = make_app()
    seed(pipe)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(titles(app)) == 3)
        await focus_row(pilot, 0)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Pasta recipe" in app.screen.question
        await pilot.press("enter")  # the focused button is "No": a stray Enter never deletes
        await pilot.pause(0.1)
        assert len(pipe.store.list_conversations(10)) == 3
        await focus_row(pilot, 0)
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: titles(app) == ["Parser bug", "Trip to Lisbon"], what="row gone")
        assert [c.title for c in pipe.store.list_conversations(10)] == ["Parser bug", "Trip to Lisbon"]


async def test_deleting_the_open_conversation_starts_a_new_one():
    app, pipe = make_app()
    ids = seed(pipe)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await app.chat.open_conversation(ids["Parser bug"])
        await pilot.pause()
        app.chat.prompt.insert("/delete")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.chat.session.conversation_id is None and not app.chat.query(AssistantMessage))
        assert "Parser bug" not in [c.title for c in pipe.store.list_conversations(10)]


async def test_export_from_the_sidebar(tmp_path):
    app, pipe = make_app(export_dir=tmp_path)
    ids = seed(pipe)
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        await wait_until(pilot, lambda: len(titles(app)) == 3)
        await focus_row(pilot, 2)
        await pilot.press("e")
        target = tmp_path / f"conversation-{ids['Trip to Lisbon']}.md"
        await wait_until(pilot, target.exists, what="export file")
        assert "Day one: Alfama." in target.read_text()


async def test_sidebar_toggles_and_new_conversations_appear():
    app, pipe = make_app()
    async with app.run_test(size=(110, 32)) as pilot:
        await ready(pilot)
        sidebar = app.chat.query_one(Sidebar)
        await pilot.press("ctrl+b")
        assert not sidebar.display
        await pilot.press("ctrl+b")
        assert sidebar.display
        app.chat.prompt.insert("first chat")
        await pilot.press("enter")
        await wait_until(pilot, lambda: titles(app) == ["First chat"], what="new conversation listed")  # titled from the message
