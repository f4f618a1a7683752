"""Writing a stored conversation to a file (``/export`` and the sidebar's ``e``)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from assistant.errors import AssistantError
from assistant.pipeline_api import ConversationStore
from assistant.tui.host import TuiHost


async def export_conversation(host: TuiHost, store: ConversationStore, conversation_id: str, fmt: str = "md",
                              target: Path | None = None) -> Path:
    """Export as Markdown or JSON to ``target`` (default ``conversation-ID.FMT`` in the
    export folder); returns the path written.

    Raises:
        AssistantError: the store could not export it, or the file could not be written.
    """
    text = await host.in_store_thread(store.export_conversation, conversation_id, fmt)
    if target is None:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", conversation_id).strip("-") or "conversation"
        target = host.export_dir / f"conversation-{slug}.{fmt}"
    target = target.expanduser()
    try:
        await asyncio.to_thread(_write, target, text)
    except OSError as exc:
        raise AssistantError(f"cannot write {target}: {exc.strerror}", "pick another path: /export md PATH") from None
    return target


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
