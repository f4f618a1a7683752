"""A pure-Python sanity check of a GGUF file before llama.cpp ever opens it.

llama.cpp's GGUF parser has had memory-safety bugs on hostile files (RELIABILITY.md row 2).
This walks the header, metadata and tensor table with strict bounds (magic, version 2/3,
counts, string and array lengths, tensor shapes and data offsets within the file size) and
raises :class:`~assistant.errors.ModelFileError` naming the file on anything odd.

A LoRA adapter gets one more check before it is loaded: :func:`validate_adapter` compares
it with its base by the rules llama.cpp's loader applies (``assistant.tuning.lora_gguf``
writes such files).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from assistant.errors import ModelError, ModelFileError

MAGIC = b"GGUF"
MAX_TENSORS = 1_000_000
MAX_KV = 100_000
MAX_KEY_LEN = 65_536
MAX_STRING_LEN = 64 * 1024 * 1024
MAX_DIMS = 4
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_KEEP = ("general.architecture", "general.name", "general.alignment", "tokenizer.chat_template",
         "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.model")


@dataclass
class GGUFInfo:
    """What the check learned about a file."""

    path: Path
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    @property
    def context_length(self) -> int | None:
        arch = self.architecture
        return self.metadata.get(f"{arch}.context_length") if arch else None

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")


class _Reader:
    def __init__(self, fh: BinaryIO, size: int, path: Path) -> None:
        self.fh, self.size, self.path = fh, size, path

    def fail(self, why: str) -> ModelFileError:
        return ModelFileError(
            f"{self.path} is not a valid GGUF model file: {why}",
            "re-download or re-pull the model (`assistant models pull NAME`), or point the config at a good file",
        )

    def take(self, n: int) -> bytes:
        if n < 0 or self.fh.tell() + n > self.size:
            raise self.fail(f"needs {n} bytes at offset {self.fh.tell()} but the file has {self.size}")
        return self.fh.read(n)

    def skip(self, n: int) -> None:
        if n < 0 or self.fh.tell() + n > self.size:
            raise self.fail(f"a value of {n} bytes runs past the end of the file")
        self.fh.seek(n, 1)

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self, limit: int = MAX_STRING_LEN) -> bytes:
        n = self.scalar("<Q")
        if n > limit:
            raise self.fail(f"a string claims {n} bytes (limit {limit})")
        return self.take(n)

    def value(self, vtype: int, keep: bool, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            raw = self.string()
            return raw.decode("utf-8", errors="replace") if keep else None
        if vtype == _ARRAY:
            if depth > 2:
                raise self.fail("arrays nested too deeply")
            itype, count = self.scalar("<I"), self.scalar("<Q")
            if count > self.size - self.fh.tell():
                raise self.fail(f"an array claims {count} items, more than the file could hold")
            if itype in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[itype]))
            elif itype in (_STRING, _ARRAY):
                for _ in range(count):
                    self.value(itype, False, depth + 1)
            else:
                raise self.fail(f"unknown array item type {itype}")
            return None
        raise self.fail(f"unknown metadata value type {vtype}")


def _tensor_bytes(dims: list[int], ggml_type: int, reader: _Reader) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise reader.fail(f"unknown tensor type {ggml_type}") from None
    n = 1
    for d in dims:
        n *= d
    if dims and dims[0] % block:
        raise reader.fail("a tensor's first dimension is not a multiple of its block size")
    return n // block * type_size


def check_gguf(path: str | Path) -> GGUFInfo:
    """Validate ``path`` as a GGUF file and return its key metadata.

    Raises:
        ModelFileError: the file is missing, empty, truncated, or structurally implausible.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        fh = path.open("rb")
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist", "pull it with `assistant models pull NAME`") from None
    except OSError as exc:
        raise ModelFileError(f"cannot open model file {path}: {exc}", "check the path and its permissions") from None
    with fh:
        r = _Reader(fh, size, path)
        if size < 24:
            raise r.fail(f"only {size} bytes")
        if r.take(4) != MAGIC:
            raise r.fail("it does not start with the GGUF magic bytes")
        version = r.scalar("<I")
        if version not in (2, 3):
            raise r.fail(f"unsupported GGUF version {version} (expected 2 or 3)")
        n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise r.fail(f"absurd counts: {n_tensors} tensors, {n_kv} metadata keys")
        info = GGUFInfo(path=path, version=version, tensor_count=n_tensors)
        for _ in range(n_kv):
            key = r.string(MAX_KEY_LEN).decode("utf-8", errors="replace")
            vtype = r.scalar("<I")
            keep = key in _KEEP or key.endswith(".context_length")
            value = r.value(vtype, keep)
            if keep:
                info.metadata[key] = value
        alignment = info.metadata.get("general.alignment", 32)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise r.fail(f"bad alignment {alignment!r}")
        extents = []
        for _ in range(n_tensors):
            r.string(MAX_KEY_LEN)
            n_dims = r.scalar("<I")
            if n_dims > MAX_DIMS:
                raise r.fail(f"a tensor claims {n_dims} dimensions")
            dims = [r.scalar("<Q") for _ in range(n_dims)]
            if any(d == 0 or d > 2**40 for d in dims):
                raise r.fail(f"a tensor has an impossible shape {dims}")
            ggml_type, offset = r.scalar("<I"), r.scalar("<Q")
            extents.append((offset, _tensor_bytes(dims, ggml_type, r)))
        data_start = -(-fh.tell() // alignment) * alignment
        for offset, nbytes in extents:
            if offset % alignment or data_start + offset + nbytes > size:
                raise r.fail("tensor data lies outside the file (truncated or corrupt)")
        return info


def read_adapter_info(path: Path) -> dict[str, Any]:
    """Metadata and tensor shapes of an adapter file (for checks and ``assistant tune`` output)."""
    import gguf

    reader = gguf.GGUFReader(str(path))

    def text(key: str) -> Any:
        field = reader.fields.get(key)
        if field is None:
            return None
        value = field.parts[field.data[0]]
        return bytes(value).decode("utf-8") if field.types[0] == gguf.GGUFValueType.STRING else value.tolist()[0]

    return {
        "type": text("general.type"),
        "architecture": text("general.architecture"),
        "adapter_type": text("adapter.type"),
        "alpha": text("adapter.lora.alpha"),
        "tensors": {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors},
    }


def validate_adapter(adapter: Path, base: Path) -> None:
    """Check an adapter against its base GGUF by the rules llama.cpp's loader applies.

    Same architecture; every ``X.lora_a``/``X.lora_b`` pair complete; ``X`` a tensor of the
    base; ``lora_a`` ``[n_in, r]`` and ``lora_b`` ``[r, n_out]`` for a base ``[n_in, n_out]``.

    Raises:
        ModelError: naming the first problem.
    """
    import gguf

    info = read_adapter_info(adapter)
    reader = gguf.GGUFReader(str(base))
    arch_field = reader.fields.get("general.architecture")
    base_arch = bytes(arch_field.parts[arch_field.data[0]]).decode() if arch_field else None
    hint = "train the adapter on this base model with `assistant tune --base MODEL`"
    if info["type"] != "adapter" or info["adapter_type"] != "lora":
        raise ModelError(f"{adapter.name} is not a LoRA adapter file", hint)
    if info["architecture"] != base_arch:
        raise ModelError(f"{adapter.name} is for '{info['architecture']}' models, the base is '{base_arch}'", hint)
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    pairs: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, shape in info["tensors"].items():
        stem, _, part = name.rpartition(".")
        pairs.setdefault(stem, {})[part] = shape
    for stem, parts in pairs.items():
        a, b, target = parts.get("lora_a"), parts.get("lora_b"), shapes.get(stem)
        if a is None or b is None:
            raise ModelError(f"{adapter.name}: {stem} lacks lora_a or lora_b", hint)
        if target is None:
            raise ModelError(f"{adapter.name}: the base has no tensor {stem}", hint)
        if a[0] != target[0] or b[1] != target[1] or a[1] != b[0]:
            raise ModelError(f"{adapter.name}: {stem} has lora_a {a} / lora_b {b} for a {target} tensor (transposed?)", hint)
