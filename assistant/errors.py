"""User-facing errors.

Everything a user may see subclasses :class:`AssistantError` and carries a hint that says
what to do next. Anything else escaping to the user is a bug.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for errors shown to the user.

    Args:
        message: what went wrong, in one line.
        hint: what the user can do about it.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(AssistantError):
    """The configuration is invalid; the message names the key path."""


class ModelError(AssistantError):
    """A model could not be found, verified, loaded or run."""


class ModelFileError(ModelError):
    """A model file is missing, corrupt, hostile or does not match its pinned hash."""


class TemplateError(ModelError):
    """A chat template is invalid or tried to escape the sandbox."""


class ContextOverflowError(AssistantError):
    """A message does not fit the model's context window."""


class GenerationCancelled(AssistantError):
    """A generation was cancelled by the user."""


class SkillError(AssistantError):
    """A skill failed to load, validate or run."""


class HandOff(SkillError):
    """A skill declines the turn: it is not one it can answer (a routing mistake).

    The pipeline gives the turn to the fallback skill when the skill raises this before
    replying and was routed to (not chosen by the user); elsewhere it reads as a SkillError.
    """


class PermissionDenied(SkillError):
    """A tool call was refused by the dispatcher."""


class StoreError(AssistantError):
    """The conversation store could not complete an operation."""


class RouterError(AssistantError):
    """The router could not be built or queried."""
