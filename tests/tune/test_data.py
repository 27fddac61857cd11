"""Training text: the model's own template and tokenizer, loss on the assistant, secrets out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.settings import load_settings
from origin_model.corpus import ArchiveStats
from tests.origin_model.test_data import SECRET, numbered_archive
from tune.chat import ChatTokenizer
from tune.data import MaskedStream, is_held_out, iter_chunks, prepare


@pytest.fixture(scope="module")
def chat(demo_model: Path) -> Iterator[ChatTokenizer]:
    """The demo model's template and tokenizer."""
    tokenizer = ChatTokenizer(demo_model)
    yield tokenizer
    tokenizer.close()


def decoded(chat: ChatTokenizer, data: Path, split: str, targets: bool | None = None) -> str:
    """A split's tokens as text: all, only the targets, or only the context."""
    ids = np.fromfile(data / f"{split}.ids", np.uint32)
    mask = np.fromfile(data / f"{split}.mask", np.uint8).astype(bool)
    if targets is not None:
        ids = ids[mask == targets]
    return chat.llama.detokenize(ids.tolist(), special=True).decode("utf-8", "replace")


def test_secrets_never_reach_the_training_tokens(
    chat: ChatTokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECHO_ORIGIN_TOKEN", SECRET)
    memory = numbered_archive(tmp_path / "memory")
    prepare(memory, tmp_path / "data", load_settings(), chat, "key")
    text = decoded(chat, tmp_path / "data", "train") + decoded(chat, tmp_path / "data", "val")
    assert SECRET not in text and "my token is *** keep it" in text
    for path in tmp_path.joinpath("data").rglob("*"):
        assert SECRET.encode() not in path.read_bytes(), path


def test_the_template_frames_turns_and_only_the_assistant_is_learned(
    chat: ChatTokenizer, tmp_path: Path
) -> None:
    memory = numbered_archive(tmp_path / "memory")
    info = prepare(memory, tmp_path / "data", load_settings(), chat, "key")
    learned = decoded(chat, tmp_path / "data", "train", targets=True)
    context = decoded(chat, tmp_path / "data", "train", targets=False)
    assert "<|im_start|>assistant\n" in context and "<|im_start|>user\n" in context
    assert "marker0001q" in learned and "marker0000q" in context  # turns 1, 3… are ChatGPT's
    assert "marker0000q" not in learned and "<|im_start|>" not in learned
    assert learned.count("<|im_end|>") > 100  # the assistant learns to end its turn
    assert 0 < info.train_targets < info.train_tokens


def test_the_split_is_stable_and_held_out_runs_are_never_trained_on(
    chat: ChatTokenizer, tmp_path: Path
) -> None:
    memory = numbered_archive(tmp_path / "memory")
    settings = load_settings()
    first = prepare(memory, tmp_path / "a", settings, chat, "key")
    again = prepare(memory, tmp_path / "b", settings, chat, "key")
    assert (first.val_tokens, first.train_tokens) == (again.val_tokens, again.train_tokens)
    train, val = decoded(chat, tmp_path / "a", "train"), decoded(chat, tmp_path / "a", "val")
    held = [c for c in iter_chunks(memory, settings, ArchiveStats()) if is_held_out(c)]
    markers = [t.text.split()[0] for c in held for t in c if t.text.startswith("marker")]
    assert markers and all(m in val and m not in train for m in markers)


def test_windows_carry_next_token_targets_and_their_flags(
    chat: ChatTokenizer, tmp_path: Path
) -> None:
    memory = numbered_archive(tmp_path / "memory")
    prepare(memory, tmp_path / "data", load_settings(), chat, "key")
    stream = MaskedStream(tmp_path / "data", "train", 32)
    ids, targets, mask = stream.batch(np.random.default_rng(0), 3)
    assert ids.shape == targets.shape == mask.shape == (3, 32)
    np.testing.assert_array_equal(ids[:, 1:], targets[:, :-1])
    xs, ys, flags = stream.fixed_windows(100)
    start = 32 * 2
    np.testing.assert_array_equal(flags[2], stream.mask[start + 1 : start + 33])
