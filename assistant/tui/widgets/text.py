"""Make arbitrary text safe to show: control characters become visible symbols.

Model output and user text may carry NUL, ANSI escape sequences, stray carriage returns or
lone surrogates. Written to a terminal they would move the cursor, change colours or fail to
encode; shown as their Unicode "control pictures" they are visible and harmless. Textual
markup needs no escaping here because the widgets never parse markup (they are given
:class:`textual.content.Content` or Markdown, both of which treat ``[`` literally).
"""

from __future__ import annotations

_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})  # C1 controls (e.g. CSI 0x9b)
_TABLE.update({c: "\ufffd" for c in range(0xD800, 0xE000)})  # lone surrogates cannot be encoded
_TABLE.update({c: f"\\u{c:04x}" for c in (0x2028, 0x2029, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069)})


def safe_text(text: str) -> str:
    """Return ``text`` with every control character replaced by a visible stand-in.

    Newlines and tabs are kept; ``\\r\\n`` becomes ``\\n``.
    """
    return text.replace("\r\n", "\n").translate(_TABLE)
