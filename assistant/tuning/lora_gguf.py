"""Export a peft LoRA adapter as a GGUF adapter file that llama.cpp loads.

llama.cpp's adapter loader (src/llama-adapter.cpp) expects:

- metadata ``general.type = "adapter"``, ``general.architecture`` equal to the base model's,
  ``adapter.type = "lora"`` and ``adapter.lora.alpha`` (scale applied is alpha / rank);
- for each adapted base tensor ``blk.N.attn_q.weight``, a pair ``blk.N.attn_q.weight.lora_a``
  and ``.lora_b``. In ggml order (ne) the base tensor is ``[n_in, n_out]``, ``lora_a`` is
  ``[n_in, rank]`` and ``lora_b`` is ``[rank, n_out]``; numpy arrays are written with their
  shape reversed, so that is ``A`` as peft stores it ``(rank, n_in)`` and ``B`` ``(n_out, rank)``.

The llama architecture stores q/k rows in a rotary-interleaved order (the converter permutes
them); since ``B`` produces those rows, its rows get the same permutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from assistant.errors import ModelError

# Architectures whose converter permutes q/k projection rows (see module docstring).
PERMUTED_QK = {"llama"}


@dataclass
class LoraPair:
    """One adapted linear layer: HF module name and its A (rank, in) / B (out, rank)."""

    module: str
    a: np.ndarray
    b: np.ndarray


def _permute_rows(rows: np.ndarray, n_head: int) -> np.ndarray:
    """The converter's q/k row order: within each head, interleave the two rotary halves."""
    out, rest = rows.shape[0], rows.shape[1:]
    return rows.reshape(n_head, 2, out // n_head // 2, *rest).swapaxes(1, 2).reshape(rows.shape)


def lora_pairs(peft_model: Any) -> Iterator[LoraPair]:
    """The trained LoRA weights of a peft model, as float32 numpy arrays."""
    for name, module in peft_model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if lora_a is None or "default" not in lora_a:
            continue
        a = module.lora_A["default"].weight.detach().float().cpu().numpy()
        b = module.lora_B["default"].weight.detach().float().cpu().numpy()
        # peft wraps the model twice: base_model.model.<the HF module path>
        yield LoraPair(name.removeprefix("base_model.model."), a, b)


def export_lora_gguf(
    pairs: list[LoraPair],
    out: Path,
    *,
    arch: str,
    alpha: float,
    n_blocks: int,
    n_head: int | None = None,
    n_head_kv: int | None = None,
    dtype: str = "f16",
    name: str = "",
) -> Path:
    """Write ``pairs`` as a GGUF LoRA adapter for a base model of architecture ``arch``.

    Args:
        pairs: from :func:`lora_pairs`.
        out: the file to write (replaced atomically).
        arch: the base GGUF's ``general.architecture``.
        alpha: the LoRA alpha used in training.
        n_blocks: number of transformer blocks (for the tensor name map).
        n_head, n_head_kv: attention heads, needed for architectures in ``PERMUTED_QK``.
        dtype: "f16" (half the size) or "f32".

    Raises:
        ModelError: an unknown architecture or a module with no GGUF name.
    """
    import gguf

    arches = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in arches:
        raise ModelError(f"cannot export a LoRA adapter for architecture '{arch}'", "use a llama, gemma3 or qwen2 base model")
    names = gguf.get_tensor_name_map(arches[arch], n_blocks)
    np_dtype = np.float16 if dtype == "f16" else np.float32
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    if name:
        writer.add_name(name)
    for pair in pairs:
        base = names.get_name(pair.module)
        if base is None:
            raise ModelError(f"no GGUF tensor for module {pair.module}", "train LoRA only on attention/MLP projections")
        b = pair.b
        if arch in PERMUTED_QK and base.endswith(("attn_q", "attn_k")):
            heads = n_head if base.endswith("attn_q") else (n_head_kv or n_head)
            if not heads:
                raise ModelError(f"exporting {base} for {arch} needs the head count", "pass n_head/n_head_kv")
            b = _permute_rows(b, heads)
        writer.add_tensor(f"{base}.weight.lora_a", np.ascontiguousarray(pair.a, dtype=np_dtype))
        writer.add_tensor(f"{base}.weight.lora_b", np.ascontiguousarray(b, dtype=np_dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out
