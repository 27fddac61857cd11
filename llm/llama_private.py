"""Every use of llama-cpp-python's private attributes, in one place.

llama-cpp-python's `Llama` keeps the native handles and the evaluation state the project
needs (the context and model pointers, the KV cache, the token buffer, the flag that says
the logits are stale) in underscore attributes. They are not a public API and may change
with any release: each is reached only through a function here, and
tests/llm/test_llama_private.py checks every one against the pinned version
(CHECKED_VERSION, the `llama-cpp-python==` pin in pyproject.toml) on the real demo model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CHECKED_VERSION = "0.3.36"


def context_handle(llama: Any) -> Any:
    """The native `llama_context *` (for llama_cpp's C functions)."""
    return llama._ctx.ctx


def model_handle(llama: Any) -> Any:
    """The native `llama_model *`."""
    return llama._model.model


def on_close(llama: Any, callback: Callable[[], None]) -> None:
    """Run `callback` when the Llama is closed (before its model is freed)."""
    llama._stack.callback(callback)


def drop_cells(llama: Any, start: int) -> None:
    """Remove every KV cell of every sequence from position `start` on."""
    llama._ctx.kv_cache_seq_rm(-1, start, -1)


def logits_stale(llama: Any) -> None:
    """Say that the next tokens must be evaluated before anything is sampled."""
    llama._requires_eval = True


def live_tokens(llama: Any) -> list[int]:
    """The tokens the live KV state holds."""
    return list(llama._input_ids[: llama.n_tokens])


def token_text(llama: Any, token: int) -> str:
    """A token's text as the model's vocabulary writes it (for the chat template's BOS/EOS)."""
    return str(llama._model.token_get_text(token))
