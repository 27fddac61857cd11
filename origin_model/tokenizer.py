"""The SentencePiece BPE tokenizer: training, the chat format, what the GGUF vocabulary needs.

Settings chosen so llama.cpp's "llama" (SPM) tokenizer gives the same ids: BPE (merges by
score, as llama.cpp does), byte fallback (any Korean, emoji or control byte round-trips),
identity normalization (llama.cpp normalizes nothing) and no dummy prefix (so a reply never
starts with the prefix space; the GGUF says add_space_prefix = false).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm

from origin_model.config import BOS_ID, EOS_ID, IM_END_ID, IM_START_ID, SPECIALS, UNK_ID
from trainkit.files import tmp_path

# GGUF token types (gguf.TokenType): normal, unknown, control, user-defined, unused, byte
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
SPACE = "\u2581"
# The training format: user and assistant turns. System messages (a persona, retrieved memory)
# are left out: the model never saw one, and they would overflow its 256-token context.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_tokenizer(sentences: Path, target: Path, vocab_size: int) -> None:
    """Train a BPE tokenizer on a file of one sentence a line; write it atomically to target."""
    prefix = tmp_path(target).with_suffix("")
    model = prefix.with_name(prefix.name + ".model")
    try:
        spm.SentencePieceTrainer.train(
            input=str(sentences), model_prefix=str(prefix), model_type="bpe",
            vocab_size=vocab_size, hard_vocab_limit=False, byte_fallback=True,
            character_coverage=0.9995, normalization_rule_name="identity",
            add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True,
            allow_whitespace_only_pieces=True, max_sentence_length=16384,
            unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID, pad_id=-1,
            control_symbols=list(SPECIALS), input_sentence_size=1_000_000,
            shuffle_input_sentence=True, num_threads=os.cpu_count() or 1,
            minloglevel=2, seed_sentencepiece_size=200_000,
        )
        os.replace(model, target)
    finally:
        for leftover in (model, prefix.with_name(prefix.name + ".vocab")):
            leftover.unlink(missing_ok=True)


def load_tokenizer(path: Path) -> spm.SentencePieceProcessor:
    """Load a trained tokenizer and check its special ids."""
    sp = spm.SentencePieceProcessor(model_file=str(path))
    ids = [sp.piece_to_id(piece) for piece in SPECIALS]
    if ids != [IM_START_ID, IM_END_ID] or sp.bos_id() != BOS_ID or sp.eos_id() != EOS_ID:
        raise ValueError(f"{path} is not an origin tokenizer (special ids {ids})")
    return sp


def copy_tokenizer(source: Path, target: Path) -> None:
    """Copy a tokenizer file under a temporary name, then rename it into place."""
    tmp = tmp_path(target)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def role_id(sp: spm.SentencePieceProcessor, role: str) -> int:
    """The first token of a turn's body for this role (what follows its <|im_start|>)."""
    return int(sp.encode(f"{role}\n")[0])


def turn_text(role: str, text: str, first: bool) -> str:
    """One turn in the chat format the GGUF's template renders (markup as literal text)."""
    return f"{'<s>' if first else ''}<|im_start|>{role}\n{text}<|im_end|>\n"


class ChatEncoder:
    """Turns to token ids, exactly as llama.cpp tokenizes the rendered chat template."""

    def __init__(self, sp: spm.SentencePieceProcessor) -> None:
        self.sp = sp
        self.newline = list(sp.encode("\n"))

    def encode(self, turns: list[tuple[str, str, bool]]) -> list[int]:
        """(role, text, first) turns as one flat list of ids."""
        bodies = self.sp.encode([f"{role}\n{text}" for role, text, _ in turns])
        ids: list[int] = []
        for (_, _, first), body in zip(turns, bodies, strict=True):
            if first:
                ids.append(BOS_ID)
            ids.append(IM_START_ID)
            ids.extend(body)
            ids.append(IM_END_ID)
            ids.extend(self.newline)
        return ids


def byte_lengths(sp: spm.SentencePieceProcessor) -> np.ndarray:
    """UTF-8 bytes of the chat-formatted text each id stands for (markup as its literal text)."""
    lengths = np.zeros(sp.get_piece_size(), dtype=np.int64)
    markup = {BOS_ID: "<s>", IM_START_ID: SPECIALS[0], IM_END_ID: SPECIALS[1]}
    for i in range(sp.get_piece_size()):
        if sp.is_byte(i):
            lengths[i] = 1
        elif i in markup:
            lengths[i] = len(markup[i])
        elif not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i)):
            lengths[i] = len(sp.id_to_piece(i).replace(SPACE, " ").encode("utf-8"))
    return lengths


def gguf_vocab(sp: spm.SentencePieceProcessor) -> dict[str, Any]:
    """Pieces, scores and token types for the GGUF (as llama.cpp's converter reads them)."""
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i).encode("utf-8"))
        scores.append(float(sp.get_score(i)))
        if sp.is_unknown(i):
            types.append(UNKNOWN)
        elif sp.is_control(i):
            types.append(CONTROL)
        elif sp.is_unused(i):
            types.append(UNUSED)
        elif sp.is_byte(i):
            types.append(BYTE)
        else:
            types.append(NORMAL)
    return {"tokens": tokens, "scores": scores, "types": types}
