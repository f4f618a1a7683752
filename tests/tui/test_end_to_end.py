"""The app on the real pipeline with the tiny generated GGUF and the fake embedder."""

from __future__ import annotations

from assistant.tui.widgets.chat_message import AssistantMessage

from .conftest import send, wait_until


async def test_real_pipeline_with_tiny_model(tiny_settings):
    from assistant.cli.tui_cmd import make_pipeline
    from assistant.tui.app import AssistantApp

    tiny_settings.router.embedder = "fake"
    app = AssistantApp(lambda confirm: make_pipeline(tiny_settings, confirm), tiny_settings.tui, tiny_settings.data_dir)
    async with app.run_test(size=(110, 32)) as pilot:
        chat = app.chat
        await wait_until(pilot, lambda: chat.session.services_ready and not chat.session.components_loading, timeout=60, what="pipeline ready")
        await send(pilot, "hello there")
        await wait_until(pilot, lambda: chat.session.active is None and bool(chat.query(AssistantMessage)), timeout=120, what="reply")
        reply = chat.query(AssistantMessage).last()
        assert reply.status == "complete", reply.stats
        assert reply.model == "tiny" and reply.skill
        assert chat.session.conversation_id is not None


async def test_docs_command_lists_collections_from_the_real_store(tiny_settings, tmp_path):
    from assistant.cli.tui_cmd import make_pipeline
    from assistant.docs.index import DocsIndex
    from assistant.memory.store import Store
    from assistant.tui.app import AssistantApp
    from assistant.tui.widgets.chat_message import NoteMessage

    tiny_settings.router.embedder = "fake"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "boiler.md").write_text("# Boiler\n\nThe boiler was serviced in March by Dale.\n")
    app = AssistantApp(lambda confirm: make_pipeline(tiny_settings, confirm), tiny_settings.tui, tiny_settings.data_dir)
    async with app.run_test(size=(140, 32)) as pilot:
        chat = app.chat
        await wait_until(pilot, lambda: chat.session.services_ready, timeout=60, what="pipeline ready")
        await send(pilot, "/docs")
        await wait_until(pilot, lambda: bool(chat.query(NoteMessage)) and "collections" in chat.query(NoteMessage).last().text,
                         timeout=10, what="empty docs note")
        assert "No document collections yet" in chat.query(NoteMessage).last().text
        store = Store.open(tiny_settings.db_path)  # what `assistant docs add` does, from another process
        try:
            index = DocsIndex(store)
            index.add(notes, "house")
            index.scan("house")
        finally:
            store.close()
        await send(pilot, "/docs")
        await wait_until(pilot, lambda: chat.query(NoteMessage).last().text.startswith("Document collections:"),
                         timeout=10, what="docs list")
        text = chat.query(NoteMessage).last().text
        assert "house" in text and "1 file," in text and str(notes) in text and "ready" in text
