"""``assistant serve``: the assistant behind an OpenAI-compatible HTTP API.

Kept import-light: the HTTP backend imports :mod:`assistant.server.settings` and
:mod:`assistant.server.sse` from here.
"""
