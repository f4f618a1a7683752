"""Per-skill evaluation and on-laptop fine-tuning.

- :mod:`assistant.tuning.task`: what eval/tune need from a skill (:class:`SkillTask`).
- :mod:`assistant.tuning.checks`: scoring (exact, label, json, similarity, keywords).
- :mod:`assistant.tuning.runner`: running an eval set on candidate models; speed and memory.
- :mod:`assistant.tuning.results` / :mod:`assistant.tuning.chart`: stored runs, table, SVG chart.
- :mod:`assistant.tuning.trainer` / :mod:`assistant.tuning.tune`: LoRA training with peft,
  checkpoints, GGUF adapter export (:mod:`assistant.tuning.lora_gguf`) and verification.
- :mod:`assistant.tuning.distill`: teacher-generated training pairs, filtered by the checks.

Heavy libraries (torch, transformers, peft, llama_cpp) are imported inside functions.
"""
