"""The training kit: what `echo-brain train` and `echo-brain tune` share.

The run loop with its hooks (resume, steps, logging, checkpoints, finish, summary), the
checkpoint format, atomic files, the bilingual error family, AdamW and the schedule, the
device and the training step's precision, and metrics.jsonl. `origin_model/` (the nano model
and its tokenizer) and `tune/` (GGUF weights, LoRA, the adapter writer) keep only their own.

Import-light on purpose, as those two: torch and numpy are imported by the submodules only,
which nothing in the server imports.
"""
