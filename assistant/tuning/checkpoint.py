"""Training checkpoints in safetensors + JSON (never pickle), so an interrupted run resumes.

A checkpoint folder holds ``lora.safetensors`` (the trainable weights by name),
``optim.safetensors`` (AdamW moments, flattened) and ``state.json`` (step, losses and the
fingerprint of the run's data and settings; a different fingerprint means start over).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE = "state.json"


@dataclass
class TrainState:
    """Where a run is."""

    fingerprint: str
    step: int = 0
    total_steps: int = 0
    losses: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0


def save_checkpoint(folder: Path, model: Any, optimizer: Any, state: TrainState) -> None:
    """Write a checkpoint atomically (to a sibling folder, then swapped in)."""
    from safetensors.torch import save_file

    tmp = folder.with_name(folder.name + ".saving")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {n: p.detach().contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}
    save_file(weights, str(tmp / "lora.safetensors"))
    tensors, groups = {}, optimizer.state_dict()
    for index, slots in groups["state"].items():
        for slot, value in slots.items():
            tensors[f"{index}.{slot}"] = value.detach().contiguous().clone().reshape(value.shape)
    save_file(tensors, str(tmp / "optim.safetensors"))
    (tmp / "param_groups.json").write_text(json.dumps(groups["param_groups"]), encoding="utf-8")
    (tmp / STATE).write_text(json.dumps(asdict(state)), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def read_state(folder: Path) -> TrainState | None:
    """The saved state, or None when there is no complete checkpoint."""
    try:
        data = json.loads((folder / STATE).read_text(encoding="utf-8"))
        return TrainState(**data)
    except (OSError, ValueError, TypeError):
        return None


def load_checkpoint(folder: Path, model: Any, optimizer: Any) -> TrainState:
    """Restore weights and optimizer moments saved by :func:`save_checkpoint`."""
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(folder / "lora.safetensors"))
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    flat = load_file(str(folder / "optim.safetensors"))
    slots: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        index, slot = key.split(".", 1)
        slots.setdefault(int(index), {})[slot] = value
    groups = json.loads((folder / "param_groups.json").read_text(encoding="utf-8"))
    optimizer.load_state_dict({"state": slots, "param_groups": groups})
    state = read_state(folder)
    assert state is not None
    return state
