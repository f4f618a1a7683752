"""Load a catalog GGUF model into transformers for training, caching the de-quantized copy.

transformers de-quantizes a GGUF on load (about a minute for the small models). The result
is saved once as safetensors under ``settings.cache_dir / "hf" / <model>-<hash>`` so later
runs load it in seconds. Text is tokenized by llama.cpp itself (see trainer), so training
sees exactly the token ids inference will see; no transformers tokenizer is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import ModelError

CACHE_MARK = "assistant-dequantized.json"


def _file_key(path: Path, sha256: str | None) -> str:
    """A short key for the base file: its pinned hash, or a hash of its size and mtime."""
    if sha256:
        return sha256[:12]
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]


def cache_dir_for(settings: Settings, name: str, gguf_path: Path, sha256: str | None = None) -> Path:
    """Where the de-quantized copy of ``name`` lives."""
    return settings.cache_dir / "hf" / f"{name}-{_file_key(gguf_path, sha256)}"


def dequantize_to(gguf_path: Path, out: Path) -> Path:
    """De-quantize ``gguf_path`` with transformers and save the weights to ``out``.

    Written to a temporary folder first and renamed, so an interrupted run leaves no
    half-written cache that a later run would trust.
    """
    import torch
    from transformers import AutoModelForCausalLM

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for unsupported files
        raise ModelError(
            f"transformers could not load {gguf_path.name} for training: {exc}",
            "fine-tuning needs a GGUF architecture transformers supports (llama, gemma3, qwen2, ...)",
        ) from None
    # The weights are plain float tensors now; drop the GGUF marker that blocks saving.
    model.hf_quantizer = None  # type: ignore[assignment]  # torch's Module.__setattr__ stub takes only tensors, modules
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    (tmp / CACHE_MARK).write_text(json.dumps({"source": str(gguf_path)}), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def load_base(settings: Settings, name: str, gguf_path: Path) -> tuple[Any, Path]:
    """The transformers model for catalog model ``name`` (de-quantized once, then cached).

    Returns:
        ``(model, cache_folder)``; the model is float32 on the CPU, in eval mode.
    """
    import torch
    from transformers import AutoModelForCausalLM

    folder = cache_dir_for(settings, name, gguf_path, settings.model(name).sha256)
    if not (folder / CACHE_MARK).is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        dequantize_to(gguf_path, folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    return model, folder
