"""Chat prompt rendering: a model's own Jinja template, only ever in a sandbox.

GGUF files carry a Jinja chat template; rendering it unsandboxed ran attacker code
(CVE-2024-34359). Templates here render in jinja2's ImmutableSandboxedEnvironment; a
template that is invalid, or that touches anything the sandbox forbids, is refused and the
configured built-in format is used instead (RELIABILITY.md row 1).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Sequence

from assistant.backends.base import ChatMessage
from assistant.errors import TemplateError

if TYPE_CHECKING:
    from jinja2 import Template

Format = Callable[[Sequence[ChatMessage]], str]


def _chatml(messages: Sequence[ChatMessage]) -> str:
    body = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def _gemma(messages: Sequence[ChatMessage]) -> str:
    # Gemma has no system role: the system text leads the first user turn.
    out, pending = [], ""
    for m in messages:
        if m.role == "system":
            pending += m.content + "\n\n"
            continue
        role = "model" if m.role == "assistant" else "user"
        content = pending + m.content if role == "user" else m.content
        pending = "" if role == "user" else pending
        out.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    return "".join(out) + "<start_of_turn>model\n"


def _llama3(messages: Sequence[ChatMessage]) -> str:
    body = "".join(
        f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content}<|eot_id|>" for m in messages
    )
    return "<|begin_of_text|>" + body + "<|start_header_id|>assistant<|end_header_id|>\n\n"


def _plain(messages: Sequence[ChatMessage]) -> str:
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    return "".join(f"{names[m.role]}: {m.content}\n" for m in messages) + "Assistant:"


FORMATS: dict[str, Format] = {"chatml": _chatml, "gemma": _gemma, "llama3": _llama3, "plain": _plain}
# Text that ends a turn in each format, used as extra stop strings.
FORMAT_STOPS: dict[str, list[str]] = {
    "chatml": ["<|im_end|>", "<|im_start|>"],
    "gemma": ["<end_of_turn>", "<start_of_turn>"],
    "llama3": ["<|eot_id|>"],
    "plain": ["\nUser:"],
}


def builtin_format(name: str) -> Format:
    """A built-in chat format by name."""
    try:
        return FORMATS[name]
    except KeyError:
        raise TemplateError(
            f"unknown chat format '{name}'", f"use one of: {', '.join(sorted(FORMATS))}"
        ) from None


def _raise(message: str) -> None:
    raise TemplateError(f"the chat template refused the conversation: {message}")


@lru_cache(maxsize=16)
def _compile(source: str) -> Template:
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"invalid chat template: {exc}", "the configured chat format is used instead") from None


def render_template(source: str, messages: Sequence[ChatMessage], bos: str = "", eos: str = "") -> str:
    """Render a model's own chat template in the sandbox.

    Raises:
        TemplateError: the template is invalid or fails to render.
        jinja2.exceptions.SecurityError: the template tried to escape the sandbox.
    """
    from jinja2.exceptions import SecurityError
    from jinja2.exceptions import TemplateError as JinjaError

    template = _compile(source)
    try:
        return template.render(
            messages=[m.as_dict() for m in messages],
            add_generation_prompt=True,
            bos_token=bos,
            eos_token=eos,
        )
    except SecurityError:
        raise
    except TemplateError:
        raise
    except (JinjaError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise TemplateError(f"invalid chat template: {exc}", "the configured chat format is used instead") from None


class ChatRenderer:
    """Turns messages into a prompt string for one model.

    Uses the model's own template when it renders safely on a probe conversation, otherwise
    the configured built-in format; ``warning`` says why the fallback was taken.
    """

    def __init__(self, template: str | None, fallback: str, bos: str = "", eos: str = "") -> None:
        self.fallback_name = fallback
        self._fallback = builtin_format(fallback)
        self._template = None
        self.bos, self.eos = bos, eos
        self.warning = ""
        if template:
            from jinja2.exceptions import SecurityError

            probe = [ChatMessage("system", "s"), ChatMessage("user", "u"), ChatMessage("assistant", "a"), ChatMessage("user", "u")]
            try:
                render_template(template, probe, bos, eos)
                self._template = template
            except SecurityError as exc:
                self.warning = f"the model's chat template tried to escape the sandbox ({exc}); using '{fallback}'"
            except TemplateError as exc:
                self.warning = f"{exc.message}; using '{fallback}'"

    @property
    def uses_model_template(self) -> bool:
        return self._template is not None

    def render(self, messages: Sequence[ChatMessage]) -> str:
        if self._template is None:
            return self._fallback(messages)
        from jinja2.exceptions import SecurityError

        try:
            return render_template(self._template, messages, self.bos, self.eos)
        except (TemplateError, SecurityError):
            # e.g. a template that refuses a system message: the built-in format still works.
            return self._fallback(messages)

    @property
    def stops(self) -> list[str]:
        return list(FORMAT_STOPS.get(self.fallback_name, []))
