"""The app on the real pipeline with the tiny generated GGUF and the fake embedder."""

from __future__ import annotations

from assistant.tui.widgets.chat_message import AssistantMessage

from .conftest import send, wait_until


async def test_real_pipeline_with_tiny_model(tiny_settings):
    from assistant.cli.tui_cmd import make_services
    from assistant.tui.app import AssistantApp

    tiny_settings.router.embedder = "fake"
    app = AssistantApp(lambda confirm: make_services(tiny_settings, confirm), tiny_settings.tui, tiny_settings.data_dir)
    async with app.run_test(size=(110, 32)) as pilot:
        chat = app.chat
        await wait_until(pilot, lambda: chat.services_ready and not chat.components_loading, timeout=60, what="pipeline ready")
        await send(pilot, "hello there")
        await wait_until(pilot, lambda: chat.active is None and bool(chat.query(AssistantMessage)), timeout=120, what="reply")
        reply = chat.query(AssistantMessage).last()
        assert reply.status == "complete", reply.stats
        assert reply.model == "tiny" and reply.skill
        assert chat.conversation_id is not None
