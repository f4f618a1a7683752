"""``assistant tune``: fine-tune a base GGUF into a skill specialist and export the adapter.

Steps: read the training pairs -> tokenize with llama.cpp -> load the de-quantized base in
transformers (cached) -> LoRA with peft (checkpointed, resumable) -> export a GGUF LoRA
adapter -> load it in llama.cpp and check it changes the model's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from assistant.config import Settings
from assistant.errors import ModelError
from assistant.models.gguf_check import validate_adapter
from assistant.tuning.data import read_training
from assistant.tuning.lora_gguf import export_lora_gguf, lora_pairs
from assistant.tuning.task import SkillTask
from assistant.tuning.trainer import Progress, TuneConfig, tokenize_pairs, train, wrap_lora


@dataclass
class TuneResult:
    """What a finished run produced."""

    adapter: Path
    steps: int
    first_loss: float
    final_loss: float
    train_s: float
    examples: int
    logit_change: float
    size_bytes: int


def run_dir(settings: Settings, skill: str, base: str) -> Path:
    """Checkpoints and distilled data of one (skill, base) pair."""
    return settings.data_dir / "tune" / f"{skill}-{base}"


def default_adapter_path(settings: Settings, skill: str, base: str) -> Path:
    return settings.data_dir / "adapters" / f"{skill}-{base}.lora.gguf"


def _backend(settings: Settings, base: str, path: Path, adapter: Path | None = None) -> Any:
    from assistant.backends.llama import LlamaBackend

    spec = settings.model(base)
    if adapter is not None:
        validate_adapter(adapter, path)
    backend = LlamaBackend(base, path, spec, n_threads=settings.runtime.n_threads, adapter=adapter, state_cache=0, n_ctx=512)
    if adapter is not None and not getattr(backend.llm, "_lora_adapter", True):
        # llama-cpp-python misses a NULL adapter pointer (its None check never fires).
        backend.close()
        raise ModelError(f"llama.cpp refused the adapter {adapter.name}", "see llama.cpp's log; re-export it with `assistant tune`")
    return backend


def last_logits(backend: Any, tokens: list[int]) -> Any:
    """llama.cpp's logits for the token after ``tokens`` (a fresh evaluation)."""
    import llama_cpp
    import numpy as np

    llm = backend.llm
    llm.reset()
    llm.eval(tokens)
    # Without logits_all, llama-cpp-python keeps no scores; read the last row from the context.
    row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float64)


def verify_adapter(settings: Settings, base: str, path: Path, adapter: Path, probe: list[int]) -> float:
    """Load ``adapter`` on ``base`` in llama.cpp; return the largest logit change on ``probe``.

    Raises:
        ModelError: llama.cpp refuses the adapter, or it changes nothing.
    """
    plain = _backend(settings, base, path)
    try:
        before = last_logits(plain, probe)
    finally:
        plain.close()
    tuned = _backend(settings, base, path, adapter)
    try:
        after = last_logits(tuned, probe)
    finally:
        tuned.close()
    change = float(abs(after - before).max())
    if change < 1e-6:
        raise ModelError(f"the adapter {adapter.name} loads but does not change the model's output", "train for more steps or a higher --lr")
    return change


def run_tune(
    settings: Settings,
    task: SkillTask,
    base: str,
    config: TuneConfig,
    *,
    data: Path | None = None,
    out: Path | None = None,
    extra_pairs: list[dict[str, Any]] | None = None,
    on_step: Callable[[Progress], None] | None = None,
    log: Callable[[str], None] = print,
    stop_after: int | None = None,
    threads: int | None = None,
) -> TuneResult:
    """Train, export and verify a LoRA adapter for ``task`` on ``base``.

    Args:
        data: training JSONL (default: the skill's ``train.jsonl``).
        out: adapter file to write (default: ``<data_dir>/adapters/<skill>-<base>.lora.gguf``).
        extra_pairs: more pairs (e.g. distilled by a teacher) appended to the file's.
        threads: torch threads for training (default: runtime.threads). On a busy machine
            one thread is several times faster than two fighting other processes.

    Raises:
        DataFileError: the training file is missing or has a bad line (named).
        TrainingInterrupted: Ctrl-C; a re-run resumes from the checkpoint.
    """
    import torch

    from assistant.models.gguf_check import check_gguf
    from assistant.models.store import ModelStore
    from assistant.tuning.hf_base import load_base

    source = data or task.train_file
    if source is None:
        raise ModelError(f"skill '{task.name}' has no training data", "pass --data FILE (JSONL of input/output pairs)")
    pairs = read_training(source) + list(extra_pairs or [])
    path = ModelStore(settings).ensure_ready(base)
    torch.set_num_threads(threads or settings.runtime.n_threads)
    tokenizer = _backend(settings, base, path)
    try:
        examples = tokenize_pairs(tokenizer, task, pairs, config.max_len)
        pad_id = max(0, tokenizer.llm.token_eos())
    finally:
        tokenizer.close()
    log(f"{len(examples)} training pairs from {source}; loading {base} into transformers")
    model, _ = load_base(settings, base, path)
    peft_model = wrap_lora(model, config)
    state = train(peft_model, examples, config, run_dir(settings, task.name, base) / "checkpoint",
                  base_name=base, pad_id=pad_id, on_step=on_step, stop_after=stop_after)
    cfg = model.config
    adapter = out or default_adapter_path(settings, task.name, base)
    export_lora_gguf(
        list(lora_pairs(peft_model)), adapter, arch=check_gguf(path).architecture or "",
        alpha=config.alpha, n_blocks=cfg.num_hidden_layers, n_head=cfg.num_attention_heads,
        n_head_kv=getattr(cfg, "num_key_value_heads", None), name=f"{task.name} LoRA for {base}",
    )
    probe = examples[0].prompt
    change = verify_adapter(settings, base, path, adapter, probe)
    return TuneResult(
        adapter=adapter, steps=state.step, first_loss=state.losses[0] if state.losses else float("nan"),
        final_loss=sum(state.losses[-5:]) / max(1, len(state.losses[-5:])), train_s=state.elapsed_s,
        examples=len(examples), logit_change=change, size_bytes=adapter.stat().st_size,
    )
