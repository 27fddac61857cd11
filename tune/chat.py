"""The base model's own chat template and tokenizer (llama-cpp-python, the vocabulary only).

A run of turns is rendered once with the GGUF's `tokenizer.chat_template` through the same
Jinja2 formatter llama-cpp-python serves with; the text is then cut into segments: template
glue (context), each turn's content, and after an assistant turn its end-of-turn marker. The
assistant's content and marker are the targets; the origin's turns and the glue are context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# A model without a template (a bare base model) gets ChatML, what the demo model uses.
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}")
Segment = tuple[str, bool]  # (text, is a target)


class ChatTokenizer:
    """Template, tokenizer and token byte lengths of one GGUF."""

    def __init__(self, gguf: Path) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
        self.template = str(self.llama.metadata.get("tokenizer.chat_template") or CHATML)
        self.eos_text = self.piece(self.llama.token_eos())
        self.formatter = Jinja2ChatFormatter(
            template=self.template, eos_token=self.eos_text,
            bos_token=self.piece(self.llama.token_bos()), add_generation_prompt=False)

    def piece(self, token: int) -> str:
        """The text of one token, special tokens spelled out."""
        if token < 0:
            return ""
        return self.llama.detokenize([token], special=True).decode("utf-8", errors="replace")

    def render(self, messages: list[dict[str, Any]]) -> str:
        """The conversation as the template writes it."""
        return str(self.formatter(messages=messages).prompt)  # type: ignore[arg-type]

    def segments(self, turns: list[tuple[str, str]]) -> list[Segment]:
        """(role, text) turns → template segments; [] when the template rewrote a turn."""
        messages = [{"role": role, "content": text.strip()} for role, text in turns
                    if text.strip()]
        if not messages:
            return []
        text, pos = self.render(messages), 0
        out: list[Segment] = []
        for message in messages:
            at = text.find(message["content"], pos)
            if at < 0:
                return []
            out += self._glue(text[pos:at], after_assistant=bool(out and out[-1][1]))
            out.append((message["content"], message["role"] == "assistant"))
            pos = at + len(message["content"])
        return out + self._glue(text[pos:], after_assistant=out[-1][1])

    def _glue(self, glue: str, after_assistant: bool) -> list[Segment]:
        """Template text between two contents; after an assistant turn its end marker learns."""
        cut = glue.find(self.eos_text) if after_assistant and self.eos_text else -1
        if cut < 0:
            return [(glue, False)] if glue else []
        end = cut + len(self.eos_text)
        return [(glue[:end], True)] + ([(glue[end:], False)] if glue[end:] else [])

    def encode(self, segments: list[Segment]) -> tuple[list[int], list[int]]:
        """Token ids and their target flags."""
        ids: list[int] = []
        flags: list[int] = []
        for text, target in segments:
            tokens = self.tokenize(text)
            ids += tokens
            flags += [int(target)] * len(tokens)
        return ids, flags

    def tokenize(self, text: str) -> list[int]:
        """The model's own tokenizer, special tokens recognised, no BOS added."""
        if not text:
            return []
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def byte_lengths(self) -> np.ndarray:
        """UTF-8 bytes of every token's text (bits per byte of the assistant's turns)."""
        return np.array([len(self.llama.detokenize([i], special=True))
                         for i in range(self.llama.n_vocab())], dtype=np.int32)

    def close(self) -> None:
        """Free the vocabulary."""
        self.llama.close()
