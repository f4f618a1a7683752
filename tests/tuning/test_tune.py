"""Fine-tuning on the tiny generated model: export validated against llama.cpp, resume, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.config import load_settings
from assistant.errors import ModelError
from assistant.models.gguf_check import read_adapter_info, validate_adapter
from assistant.tuning.data import DataFileError, read_training
from assistant.tuning.lora_gguf import LoraPair, export_lora_gguf, lora_pairs
from assistant.tuning.task import load_task
from assistant.tuning.trainer import TrainingInterrupted, TuneConfig, tokenize_pairs, train, wrap_lora
from assistant.tuning.tune import _backend, last_logits, run_tune

from .conftest import write_skill

torch = pytest.importorskip("torch")
pytest.importorskip("peft")


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path) -> Path:
    """The tiny GGUF de-quantized by transformers, saved once for the module."""
    from assistant.tuning.hf_base import dequantize_to

    return dequantize_to(tiny_gguf, tmp_path_factory.mktemp("hf") / "tiny")


def hf_model(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def test_transformers_reads_the_tiny_gguf_like_llama_cpp(tiny_hf: Path, tiny_config: Path) -> None:
    settings = load_settings()
    backend = _backend(settings, "tiny", settings.model("tiny").path)
    tokens = backend.tokenize_prompt("hello there")
    ours = last_logits(backend, tokens)
    backend.close()
    with torch.no_grad():
        theirs = hf_model(tiny_hf)(torch.tensor([tokens])).logits[0, -1].double().numpy()
    # llama.cpp keeps the KV cache in f16, so logits agree to about 1e-2, not bit for bit.
    assert np.abs(ours - theirs).max() < 0.05


def test_exported_adapter_matches_peft_in_llama_cpp(tiny_hf: Path, tiny_config: Path, tmp_path: Path) -> None:
    """The adapter's effect in llama.cpp equals the peft model's: names, orientation, q/k permutation, scale."""
    settings = load_settings()
    base = hf_model(tiny_hf)
    with torch.no_grad():
        tokens = [1, 72, 101, 108, 108, 111, 32, 119, 111, 114]
        before = base(torch.tensor([tokens])).logits[0, -1].double().numpy()
    model = wrap_lora(base, TuneConfig(rank=4, alpha=8, targets=("q_proj", "k_proj", "v_proj", "down_proj")))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        after = model(torch.tensor([tokens])).logits[0, -1].double().numpy()
    out = export_lora_gguf(list(lora_pairs(model)), tmp_path / "a.gguf", arch="llama", alpha=8, n_blocks=2,
                           n_head=4, n_head_kv=4, dtype="f32")
    info = read_adapter_info(out)
    assert info["type"] == "adapter" and info["adapter_type"] == "lora" and info["alpha"] == 8.0
    assert info["tensors"]["blk.0.attn_q.weight.lora_a"] == (64, 4)  # ggml order: [n_in, rank]
    assert info["tensors"]["blk.1.ffn_down.weight.lora_b"] == (4, 64)  # [rank, n_out]
    plain = _backend(settings, "tiny", settings.model("tiny").path)
    tuned = _backend(settings, "tiny", settings.model("tiny").path, adapter=out)
    try:
        got_before, got_after = last_logits(plain, tokens), last_logits(tuned, tokens)
    finally:
        plain.close()
        tuned.close()
    # The adapter moves logits by whole units; both implementations agree to the f16 KV noise.
    assert np.abs(after - before).max() > 1.0
    assert np.abs(got_before - before).max() < 0.05
    assert np.abs(got_after - after).max() < 0.05, np.abs(got_after - after).max()


def test_bad_adapters_are_refused_by_llama_cpp_and_by_our_check(tiny_config: Path, tmp_path: Path) -> None:
    from llama_cpp import Llama

    settings = load_settings()
    base = settings.model("tiny").path
    pair = LoraPair("model.layers.0.self_attn.v_proj", np.ones((4, 64), np.float32), np.ones((64, 4), np.float32))
    good = export_lora_gguf([pair], tmp_path / "good.gguf", arch="llama", alpha=8, n_blocks=2, dtype="f32")
    transposed = export_lora_gguf([LoraPair(pair.module, pair.b, pair.a)], tmp_path / "t.gguf", arch="llama", alpha=8, n_blocks=2)
    wrong_arch = export_lora_gguf([pair], tmp_path / "g.gguf", arch="gemma3", alpha=8, n_blocks=2)
    validate_adapter(good, base)
    for bad, why in ((transposed, "transposed"), (wrong_arch, "'gemma3' models")):
        # llama.cpp's own loader refuses it (a NULL adapter, which llama-cpp-python does not report) ...
        llm = Llama(model_path=str(base), lora_path=str(bad), n_ctx=256, verbose=False)
        assert not llm._lora_adapter
        llm.close()
        # ... and so do we, with a message, before llama.cpp sees the file.
        with pytest.raises(ModelError, match=why):
            validate_adapter(bad, base)
        with pytest.raises(ModelError):
            _backend(settings, "tiny", base, adapter=bad)
    llm = Llama(model_path=str(base), lora_path=str(good), n_ctx=256, verbose=False)
    assert llm._lora_adapter
    llm.close()


def test_tune_end_to_end_on_the_tiny_model(tiny_config: Path, skills_root: Path, tmp_path: Path) -> None:
    write_skill(skills_root)
    settings = load_settings()
    task = load_task(settings, "demo")
    steps = []
    result = run_tune(settings, task, "tiny", TuneConfig(max_steps=2, batch_size=2, lr=0.05, save_every=1),
                      out=tmp_path / "demo.lora.gguf", on_step=steps.append, log=lambda m: None)
    assert [p.step for p in steps] == [1, 2] and steps[-1].eta_s == 0
    assert result.adapter.is_file() and result.steps == 2 and result.size_bytes > 1000
    assert result.logit_change > 1e-4  # loaded by llama.cpp and changes the output
    assert read_adapter_info(result.adapter)["architecture"] == "llama"
    assert any(settings.cache_dir.glob("hf/tiny-*/model.safetensors"))  # de-quantized copy cached


def _examples(settings, task):
    backend = _backend(settings, "tiny", settings.model("tiny").path)
    try:
        return tokenize_pairs(backend, task, read_training(task.train_file), 64)
    finally:
        backend.close()


def test_a_pairs_system_text_replaces_the_skill_prompt(tiny_config: Path, skills_root: Path) -> None:
    write_skill(skills_root)
    settings = load_settings()
    task = load_task(settings, "demo")
    backend = _backend(settings, "tiny", settings.model("tiny").path)
    try:
        own, given = tokenize_pairs(backend, task, [{"input": "hi", "output": "x"},
                                                    {"input": "hi", "output": "x", "system": "Labels: a, b."}], 512)
        seen = [backend.llm.detokenize(e.prompt).decode().replace("\u2581", " ") for e in (own, given)]
    finally:
        backend.close()
    assert "Reply with one word" in seen[0] and "Labels: a, b." not in seen[0]
    assert "Labels: a, b." in seen[1] and "Reply with one word" not in seen[1]
    assert own.answer == given.answer


def test_interrupted_training_resumes_to_the_same_weights(tiny_hf: Path, tiny_config: Path, skills_root: Path, tmp_path: Path) -> None:
    write_skill(skills_root)
    settings = load_settings()
    examples = _examples(settings, load_task(settings, "demo"))
    assert examples[0].answer[-1] == 260  # the answer ends with <|im_end|>, so the model learns to stop
    config = TuneConfig(max_steps=3, batch_size=2, lr=0.01, save_every=100)
    torch.set_num_threads(1)

    straight = wrap_lora(hf_model(tiny_hf), config)
    train(straight, examples, config, tmp_path / "a", base_name="tiny")

    resumed = wrap_lora(hf_model(tiny_hf), config)
    with pytest.raises(TrainingInterrupted, match="step 1 of 3"):
        train(resumed, examples, config, tmp_path / "b", base_name="tiny", stop_after=1)
    seen = []
    again = wrap_lora(hf_model(tiny_hf), config)
    state = train(again, examples, config, tmp_path / "b", base_name="tiny", on_step=seen.append)
    assert [p.step for p in seen] == [2, 3] and seen[0].resumed_from == 1 and state.step == 3
    want = dict(straight.named_parameters())
    for name, p in again.named_parameters():
        if p.requires_grad:
            assert torch.allclose(p, want[name], atol=1e-6), name


def test_changed_settings_start_over(tiny_hf: Path, tiny_config: Path, skills_root: Path, tmp_path: Path) -> None:
    write_skill(skills_root)
    settings = load_settings()
    examples = _examples(settings, load_task(settings, "demo"))
    config = TuneConfig(max_steps=2, batch_size=2, save_every=1)
    with pytest.raises(TrainingInterrupted):
        train(wrap_lora(hf_model(tiny_hf), config), examples, config, tmp_path / "c", base_name="tiny", stop_after=1)
    seen = []
    other = TuneConfig(max_steps=2, batch_size=2, save_every=1, lr=0.5)
    train(wrap_lora(hf_model(tiny_hf), other), examples, other, tmp_path / "c", base_name="tiny", on_step=seen.append)
    assert seen[0].step == 1 and seen[0].resumed_from == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["input", "output"]', "expected a JSON object"),
        ('{"input": "x"}', "missing key(s) output"),
        ('{"input": "  ", "output": "y"}', "'input' is empty"),
        ('{"input": "a", "output": "y", "system": 3}', "'system' must be a string"),
    ],
)
def test_bad_training_file_names_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"input": "a", "output": "b"}) + "\n\n" + line + "\n")
    with pytest.raises(DataFileError) as err:
        read_training(path)
    assert f"{path}:3:" in err.value.message and message in err.value.message and err.value.hint


def test_tune_command_reports_a_bad_line(tiny_config: Path, skills_root: Path, tmp_path: Path, capsys) -> None:
    from assistant.cli import main

    write_skill(skills_root)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "a", "output": "b"}\n{"input": "c" "output": "d"}\n')
    assert main(["tune", "demo", "--base", "tiny", "--data", str(bad), "--no-eval"]) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}:2: not valid JSON" in err and "hint:" in err
