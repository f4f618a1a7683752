"""LoRA fine-tuning on the CPU: examples -> peft training loop -> checkpoints.

Prompts are rendered and tokenized by llama.cpp (the same renderer and tokenizer inference
uses), so the adapter learns on exactly the token ids it will see at run time. Loss is taken
on the answer tokens only (the answer plus the turn's end marker, so the tuned model stops).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.errors import AssistantError
from assistant.tuning.checkpoint import TrainState, load_checkpoint, read_state, save_checkpoint

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class TrainingInterrupted(AssistantError):
    """Training stopped early (Ctrl-C); the last checkpoint is kept and a re-run resumes."""


@dataclass
class TuneConfig:
    """Hyperparameters of one run (all of them enter the resume fingerprint)."""

    epochs: float = 3.0
    lr: float = 2e-4
    rank: int = 8
    alpha: float = 16.0
    batch_size: int = 8
    max_steps: int | None = None
    max_len: int = 160
    seed: int = 0
    targets: tuple[str, ...] = DEFAULT_TARGETS
    warmup: float = 0.05
    save_every: int = 10
    top_layers: int | None = None


@dataclass
class Example:
    """One tokenized training pair: prompt ids (no loss) then answer ids (loss)."""

    prompt: list[int]
    answer: list[int]


@dataclass
class Progress:
    """What a progress callback receives after each step."""

    step: int
    total: int
    loss: float
    elapsed_s: float
    eta_s: float
    resumed_from: int = 0
    losses: list[float] = field(default_factory=list)


def tokenize_pairs(backend: Any, task: Any, pairs: list[dict[str, Any]], max_len: int) -> list[Example]:
    """Tokenize ``{"input", "output", "system"?}`` pairs with a loaded :class:`LlamaBackend`.

    A pair's ``system`` text replaces the skill prompt (for skills whose system message carries
    the request's parameters, such as a label list).

    The answer ends with the chat format's end-of-turn marker so the tuned model learns to stop.
    """
    end = backend.renderer.stops[0] if backend.renderer.stops else ""
    out = []
    for pair in pairs:
        prompt = backend.tokenize_prompt(backend.render(task.messages(pair["input"], pair.get("system"))))
        answer = backend.llm.tokenize((pair["output"] + end).encode("utf-8"), add_bos=False, special=True)
        if len(prompt) + len(answer) > max_len:
            prompt = prompt[-(max_len - len(answer)) :] if len(answer) < max_len else prompt[:1]
            answer = answer[: max_len - len(prompt)]
        out.append(Example(prompt, answer))
    return out


def fingerprint(examples: list[Example], config: TuneConfig, base: str) -> str:
    """Identifies a run: same data, base and settings resume; anything else starts over."""
    digest = hashlib.sha256(base.encode())
    digest.update(json.dumps(asdict(config) | {"save_every": 0}, sort_keys=True, default=list).encode())
    for ex in examples:
        digest.update(json.dumps([ex.prompt, ex.answer]).encode())
    return digest.hexdigest()[:16]


def lr_at(step: int, total: int, config: TuneConfig) -> float:
    """Linear warm-up then linear decay: a pure function of the step, so resume is exact."""
    warm = max(1, int(total * config.warmup))
    if step < warm:
        return config.lr * (step + 1) / warm
    return config.lr * max(0.0, (total - step) / max(1, total - warm))


def batch_indices(step: int, n: int, config: TuneConfig) -> list[int]:
    """The examples of ``step``: a seeded shuffle per epoch, so a resumed run sees the same order."""
    import numpy as np

    per_epoch = math.ceil(n / config.batch_size)
    epoch, index = divmod(step, per_epoch)
    order = np.random.default_rng(config.seed + epoch).permutation(n)
    return [int(i) for i in order[index * config.batch_size : (index + 1) * config.batch_size]]


def collate(examples: list[Example], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors; labels are -100 on the prompt and padding."""
    import torch

    width = max(len(e.prompt) + len(e.answer) for e in examples)
    ids, mask, labels = [], [], []
    for e in examples:
        seq = e.prompt + e.answer
        pad = width - len(seq)
        ids.append(seq + [pad_id] * pad)
        mask.append([1] * len(seq) + [0] * pad)
        labels.append([-100] * len(e.prompt) + e.answer + [-100] * pad)
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def answer_loss(peft_model: Any, batch: dict[str, Any]) -> Any:
    """Cross-entropy on the answer tokens, projecting only those positions through the head.

    The output head is the costliest layer of a small model with a large vocabulary (gemma 3:
    262k x 640); answers are a few tokens of a ~70-token sequence, so skipping the prompt
    positions cuts a step's work several-fold. Same value as the model's own loss.
    """
    import torch

    base = peft_model.get_base_model()
    hidden = base.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != -100
    logits = base.get_output_embeddings()(hidden[:, :-1][keep])
    cap = getattr(base.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def wrap_lora(model: Any, config: TuneConfig) -> Any:
    """Add LoRA layers to the projections of ``model`` that exist (names vary by architecture)."""
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in config.targets if t in present]
    if not targets:
        raise AssistantError(f"none of the LoRA targets {list(config.targets)} exist in this model", "pick other target modules")
    extra: dict[str, Any] = {}
    n_layers = getattr(model.config, "num_hidden_layers", None)
    if config.top_layers and n_layers and config.top_layers < n_layers:
        # Adapting only the top layers means backward stops there: a step costs about
        # forward + 2 x (top/all) instead of 3 forwards.
        extra["layers_to_transform"] = list(range(n_layers - config.top_layers, n_layers))
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha,  # type: ignore[arg-type]  # peft: int, used as alpha / r
                      target_modules=targets, lora_dropout=0.0, bias="none", **extra)
    import torch

    torch.manual_seed(config.seed)
    return get_peft_model(model, lora)


def train(
    model: Any,
    examples: list[Example],
    config: TuneConfig,
    checkpoint_dir: Path,
    *,
    base_name: str,
    pad_id: int = 0,
    on_step: Callable[[Progress], None] | None = None,
    stop_after: int | None = None,
) -> TrainState:
    """Train a peft-wrapped ``model`` on ``examples``, resuming from ``checkpoint_dir``.

    Args:
        model: the output of :func:`wrap_lora`.
        stop_after: stop (as if interrupted) after this many steps of this call; for tests.

    Raises:
        TrainingInterrupted: Ctrl-C or ``stop_after``; the checkpoint holds the last step.
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(examples) / config.batch_size)
    total = config.max_steps or max(1, math.ceil(steps_per_epoch * config.epochs))
    fp = fingerprint(examples, config, base_name)
    saved = read_state(checkpoint_dir)
    if saved is not None and saved.fingerprint == fp and saved.step > 0:
        state = load_checkpoint(checkpoint_dir, model, optimizer)
    else:
        state = TrainState(fingerprint=fp, total_steps=total)
    resumed_from, started, done_here = state.step, time.perf_counter(), 0
    prior_s = state.elapsed_s
    model.train()
    try:
        while state.step < total:
            if stop_after is not None and done_here >= stop_after:
                raise KeyboardInterrupt
            for group in optimizer.param_groups:
                group["lr"] = lr_at(state.step, total, config)
            batch = collate([examples[i] for i in batch_indices(state.step, len(examples), config)], pad_id)
            loss = answer_loss(model, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            done_here += 1
            state.losses.append(round(float(loss.item()), 5))
            spent = time.perf_counter() - started
            if on_step:
                per_step = spent / done_here
                on_step(Progress(state.step, total, state.losses[-1], spent, per_step * (total - state.step), resumed_from, state.losses))
            if state.step % config.save_every == 0 or state.step == total:
                state.elapsed_s = round(prior_s + spent, 2)
                save_checkpoint(checkpoint_dir, model, optimizer, state)
    except KeyboardInterrupt:
        if state.step > resumed_from:
            state.elapsed_s = round(prior_s + time.perf_counter() - started, 2)
            save_checkpoint(checkpoint_dir, model, optimizer, state)
        raise TrainingInterrupted(
            f"training stopped at step {state.step} of {total}; the checkpoint in {checkpoint_dir} is kept",
            "run the same command again to resume from there",
        ) from None
    finally:
        model.eval()
    return state
