"""The llama.cpp backend (llama-cpp-python), streaming token by token.

Built on ``Llama.generate`` so the decode loop adds almost nothing over raw llama.cpp.
Prompts are rendered by :mod:`assistant.backends.templates` (sandboxed); the KV state of
recent conversations is kept so returning to one re-reads only what changed.
"""

from __future__ import annotations

import codecs
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from assistant.backends.base import (
    ChatMessage,
    FinishReason,
    Generation,
    GenerationRequest,
    GenerationResult,
    Stopwatch,
    hold_back,
)
from assistant.backends.templates import ChatRenderer
from assistant.config import ModelSpec
from assistant.errors import ContextOverflowError, ModelError
from assistant.models.gguf_check import check_gguf, validate_adapter

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar


@dataclass
class _Saved:
    """A conversation's KV state, saved when another conversation took the model."""

    tokens: list[int]
    state: bytes


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaBackend:
    """One GGUF model loaded with llama.cpp.

    Args:
        name: catalog name reported in results.
        path: the GGUF file (already verified by the model store).
        spec: the catalog entry (context size, chat format).
        n_threads: CPU threads for prompt and decode.
        adapter: optional GGUF LoRA adapter applied at load.
        state_cache: how many other conversations' KV states to keep in RAM.
    """

    def __init__(
        self,
        name: str,
        path: Path,
        spec: ModelSpec,
        *,
        n_threads: int = 2,
        adapter: Path | None = None,
        state_cache: int = 4,
        n_ctx: int | None = None,
    ) -> None:
        from assistant.backends.grammar_sampling import llama_class

        Llama = llama_class()  # llama_cpp.Llama, with grammar checks on the likeliest tokens first
        self.name = name
        self.path = Path(path)
        self.adapter = adapter
        kwargs: dict[str, Any] = dict(
            model_path=str(path),
            n_ctx=n_ctx or spec.n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_batch=512,
            verbose=False,
        )
        if adapter is not None:
            check_gguf(adapter)
            # llama-cpp-python does not notice when llama.cpp refuses an adapter, so check
            # it against the base by the loader's own rules first.
            validate_adapter(Path(adapter), Path(path))
            kwargs["lora_path"] = str(adapter)
        try:
            self.llm = Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"llama.cpp could not load {path.name}: {exc}", "check the file with `assistant models verify`") from None
        if adapter is not None and not getattr(self.llm, "_lora_adapter", None):
            self.llm.close()
            raise ModelError(f"llama.cpp refused the LoRA adapter {adapter}", "re-create it with `assistant tune`")
        self.n_ctx = self.llm.n_ctx()
        meta = self.llm.metadata or {}
        bos = self._piece(self.llm.token_bos())
        eos = self._piece(self.llm.token_eos())
        self.renderer = ChatRenderer(meta.get("tokenizer.chat_template"), spec.chat_format, bos, eos)
        self._bos_text = bos
        self._lock = threading.Lock()
        self._grammars: dict[str, LlamaGrammar] = {}
        self._active_key: str | None = None
        self._saved: OrderedDict[str, _Saved] = OrderedDict()
        self._state_cache = state_cache

    # Tokens --------------------------------------------------------------------------------
    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def tokenize_prompt(self, prompt: str) -> list[int]:
        # Templates that write the BOS text themselves must not get a second BOS.
        add_bos = not (self._bos_text and prompt.startswith(self._bos_text))
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render(self, messages: list[ChatMessage]) -> str:
        return self.renderer.render(messages)

    def count_messages(self, messages: list[ChatMessage]) -> int:
        return len(self.tokenize_prompt(self.render(messages)))

    # KV state per conversation ---------------------------------------------------------------
    def _swap_state(self, key: str | None, prompt: list[int]) -> None:
        """Make the KV cache hold the best known prefix of ``prompt`` for conversation ``key``."""
        if key == self._active_key or self._state_cache <= 0:
            self._active_key = key
            return
        import llama_cpp

        llm = self.llm
        current = list(llm._input_ids[: llm.n_tokens])
        if self._active_key is not None and current:
            size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
            buf = (llama_cpp.ctypes.c_uint8 * size)()
            n = llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size)
            self._saved[self._active_key] = _Saved(current, bytes(buf[:n]))
            self._saved.move_to_end(self._active_key)
            while len(self._saved) > self._state_cache:
                self._saved.popitem(last=False)
        saved = self._saved.get(key) if key else None
        if saved and _common_prefix(saved.tokens, prompt) > _common_prefix(current, prompt):
            data = (llama_cpp.ctypes.c_uint8 * len(saved.state)).from_buffer_copy(saved.state)
            if llama_cpp.llama_state_set_data(llm._ctx.ctx, data, len(saved.state)) == len(saved.state):
                llm.input_ids[: len(saved.tokens)] = saved.tokens
                llm.n_tokens = len(saved.tokens)
                llm._requires_eval = True
            else:  # a state that does not fit: start clean rather than trust a half-set cache
                llm.reset()
        self._active_key = key

    def cached_prefix(self, prompt: list[int]) -> int:
        return _common_prefix(list(self.llm._input_ids[: self.llm.n_tokens]), prompt)

    # Generation ------------------------------------------------------------------------------
    def _grammar(self, schema: dict[str, Any] | None) -> LlamaGrammar | None:
        if schema is None:
            return None
        # Not sort_keys: the grammar writes an object's fields in the schema's order, which is
        # the order the request asked for (and the order a tuned model learnt).
        key = json.dumps(schema)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as exc:  # noqa: BLE001 - the converter raises several types on unsupported schemas
                raise ModelError(f"cannot turn the output schema into a grammar: {exc}", "simplify the skill's schema") from None
        return self._grammars[key]

    def stream(self, request: GenerationRequest) -> Generation:
        prompt_text = self.render(request.messages)
        prompt = self.tokenize_prompt(prompt_text)
        if len(prompt) + 1 > self.n_ctx:
            raise ContextOverflowError(
                f"the conversation takes {len(prompt)} tokens but {self.name} holds {self.n_ctx}",
                "shorten the message, start a new conversation, or raise n_ctx for this model",
            )
        grammar = self._grammar(request.json_schema)
        max_tokens = min(request.max_tokens, self.n_ctx - len(prompt))
        stops = [s for s in request.stop + self.renderer.stops if s]
        watch = Stopwatch()
        stats = {"n": 0, "cached": 0, "length": False}

        def pieces() -> Iterator[str]:
            import llama_cpp

            with self._lock:
                self._swap_state(request.cache_key, prompt)
                stats["cached"] = self.cached_prefix(prompt)
                if request.seed is not None:
                    self.llm.set_seed(request.seed)
                decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                vocab = self.llm._model.vocab
                pending = ""
                tokens = self.llm.generate(
                    prompt,
                    top_k=request.top_k,
                    top_p=request.top_p,
                    temp=request.temperature,
                    repeat_penalty=request.repeat_penalty,
                    grammar=grammar,
                )
                try:
                    for token in tokens:
                        watch.mark()
                        if llama_cpp.llama_vocab_is_eog(vocab, token) or request.cancelled:
                            break
                        stats["n"] += 1
                        text = decoder.decode(self.llm.detokenize([token]))
                        emit, pending, stopped = hold_back(pending + text, stops)
                        if emit:
                            yield emit
                        if stopped:
                            pending = ""
                            break
                        if stats["n"] >= max_tokens:
                            stats["length"] = True
                            break
                    tail = pending + decoder.decode(b"", final=True)
                    if tail and not request.cancelled:
                        yield tail
                finally:
                    tokens.close()

        def finish(text: str, reason: FinishReason) -> GenerationResult:
            if request.cancelled:
                reason = "cancelled"
            elif stats["length"]:
                reason = "length"
            return GenerationResult(
                text=text,
                model=self.name,
                prompt_tokens=len(prompt),
                completion_tokens=stats["n"],
                ttft_ms=watch.ttft_ms,
                duration_ms=watch.elapsed_ms,
                finish_reason=reason,
                cached_tokens=stats["cached"],
            )

        return Generation(pieces(), finish)

    def close(self) -> None:
        with self._lock:
            self._saved.clear()
            llm, self.llm = self.llm, None  # type: ignore[assignment]  # a closed backend drops its model, never used again
            if llm is not None:
                llm.close()
