"""Screens of the chat app; each has a matching ``.tcss`` file beside it."""
