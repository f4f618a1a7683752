"""``assistant serve``: the assistant behind an OpenAI-compatible HTTP API.

Kept import-light: :mod:`assistant.config` imports :mod:`assistant.server.settings` from here,
so nothing web-related loads until ``serve`` runs.
"""
