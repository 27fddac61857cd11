"""What the model is served for: the loss on the replies' tokens, and the served-format figure
(a held-out reply's bits per byte given its user turn, in the GGUF's chat template, through
llama.cpp)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.settings import load_settings
from origin_model.config import IM_END_ID, IM_START_ID, ModelConfig
from origin_model.corpus import ArchiveStats, iter_turns
from origin_model.data import IGNORE, TokenStream, held_out_exchanges, is_held_out, prepare
from origin_model.evaluate import evaluate, gguf_reply_bits_per_byte
from origin_model.export import load_pth
from origin_model.model import Transformer
from origin_model.tokenizer import ChatEncoder, load_tokenizer, role_id
from tests.origin_model.conftest import TrainedRun
from tests.origin_model.test_data import numbered_archive

CONTEXT = 32


def prepared(tmp_path: Path) -> tuple[TokenStream, int, int]:
    """The numbered archive's training stream, and the user and assistant role ids."""
    memory = numbered_archive(tmp_path / "memory")
    prepare(memory, tmp_path / "out", load_settings(), keep_tokenizer=False, context=CONTEXT)
    sp = load_tokenizer(tmp_path / "out" / "data" / "tokenizer.model")
    stream = TokenStream(tmp_path / "out" / "data" / "train.bin", CONTEXT)
    return stream, role_id(sp, "user"), role_id(sp, "assistant")


def test_reply_targets_leave_out_the_user_turns_not_the_inputs(tmp_path: Path) -> None:
    stream, user, assistant = prepared(tmp_path)
    keep = stream.reply_tokens(assistant)
    tokens = np.asarray(stream.tokens)
    opens = np.flatnonzero(tokens == IM_START_ID)
    roles = tokens[opens + 1]
    assert keep[opens[roles == assistant]].all() and not keep[opens[roles == user]].any()
    assert keep[opens[roles == assistant] + 2].all()  # the turn's newline: markup counts too
    assert 0.3 < keep.mean() < 0.7  # alternating turns of about the same length
    inputs, targets = stream.batch(np.random.default_rng(1), 32, keep)
    plain_inputs, plain_targets = stream.batch(np.random.default_rng(1), 32)
    assert (inputs == plain_inputs).all()  # the inputs are never masked
    ignored = targets == IGNORE
    assert ignored.any() and (~ignored).any()
    assert (targets[~ignored] == plain_targets[~ignored]).all()
    _, val_targets = stream.fixed_windows(CONTEXT * 8, keep)
    assert ((val_targets == IGNORE) == ~keep[1 : CONTEXT * 8 + 1].reshape(8, CONTEXT)).all()


def test_the_validation_figure_counts_only_the_kept_targets() -> None:
    """evaluate() leaves IGNORE targets out of the nats, the tokens and the bytes."""
    torch.manual_seed(0)
    model = Transformer(ModelConfig(64, dim=32, n_layers=1, n_heads=1, hidden_dim=64))
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 64, size=(4, 16))
    ys = rng.integers(0, 64, size=(4, 16))
    lengths = np.arange(1, 65)
    masked = ys.copy()
    masked[:, ::2] = IGNORE
    loss, bpb = evaluate(model, (xs, masked), lengths, torch.device("cpu"))
    with torch.no_grad():
        logits = model(torch.from_numpy(xs))[:, 1::2]
    want = F.cross_entropy(logits.reshape(-1, 64), torch.from_numpy(ys[:, 1::2]).reshape(-1),
                           reduction="sum").item()
    assert math.isclose(loss, want / ys[:, 1::2].size, rel_tol=1e-5)
    assert math.isclose(bpb, want / math.log(2) / lengths[ys[:, 1::2]].sum(), rel_tol=1e-5)


def test_held_out_exchanges_pair_a_held_out_reply_with_its_question(tmp_path: Path) -> None:
    memory = numbered_archive(tmp_path / "memory")
    settings = load_settings()
    pairs = list(held_out_exchanges(memory, settings))
    turns = list(iter_turns(memory, settings, ArchiveStats()))
    expected = [(before.text, turn.text) for before, turn in zip(turns, turns[1:], strict=False)
                if turn.role == "assistant" and is_held_out(turn) and before.role == "user"
                and before.part == turn.part]
    assert len(pairs) >= 5 and pairs == expected
    for question, reply in pairs:
        if reply.startswith("marker"):  # the reply to marker N is marker N + 1
            number = int(reply.split()[0][len("marker"):-1])
            assert question.startswith(f"marker{number - 1:04d}q")
    trained_on = {t.text for t in turns if not is_held_out(t)}
    assert not {reply for _, reply in pairs} & trained_on


def test_the_served_figure_scores_the_reply_given_its_question(trained: TrainedRun) -> None:
    """llama.cpp through the GGUF's template gives what PyTorch gives on the training format."""
    pairs = list(held_out_exchanges(trained.memory, load_settings()))[:12]
    assert pairs
    got = gguf_reply_bits_per_byte(trained.out / "origin-nano.gguf", pairs, n_threads=1)
    sp = load_tokenizer(trained.out / "tokenizer.model")
    model = load_pth(trained.out / "origin-nano.pth").eval()
    encoder = ChatEncoder(sp)
    nats, nbytes, scored, too_long = 0.0, 0, 0, []
    for place, (question, reply) in enumerate(pairs):
        prompt = encoder.encode([("user", question, True)]) + [IM_START_ID]
        prompt += sp.encode("assistant\n")
        answer = [*sp.encode(reply), IM_END_ID]
        ids = prompt + answer
        if len(ids) > model.config.context:
            too_long.append(place)
            continue
        with torch.no_grad():
            logits = model(torch.tensor([ids[:-1]]))[0, len(prompt) - 1 :]
        nats += float(F.cross_entropy(logits, torch.tensor(answer), reduction="sum"))
        nbytes += len(reply.encode("utf-8"))
        scored += 1
    assert got["exchanges"] == scored > 0 and got["left_out"] == too_long
    assert got["bytes"] == nbytes
    assert math.isclose(got["bits_per_byte"], nats / math.log(2) / nbytes, rel_tol=1e-3)


def test_train_counts_the_replies_by_default(trained: TrainedRun) -> None:
    assert trained.summary()["targets"] == "replies"
