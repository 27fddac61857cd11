"""Export, all three at once: .pth, .safetensors and a .gguf that llama.cpp loads.

Every file is first written under a temporary name; only when all are complete are they
renamed into place, one right after the other: an interrupted export never leaves a
half-written model, and the previous model stays intact until the renames.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from core.fsio import fsync_dir
from llm.backend import TRAINED_ON_MEMORY_KEY
from origin_model.config import BOS_ID, IM_END_ID, UNK_ID, ModelConfig
from origin_model.model import Transformer
from origin_model.tokenizer import CHAT_TEMPLATE, gguf_vocab, load_tokenizer
from trainkit.errors import write_failed
from trainkit.files import tmp_path

FORMAT = "echo-brain-origin-model"


@dataclass(frozen=True)
class ExportPaths:
    """The files one export writes."""

    pth: Path
    safetensors: Path
    gguf: Path
    tokenizer: Path

    def all(self) -> tuple[Path, ...]:
        """Every file, in rename order (the GGUF, what the server loads, last)."""
        return (self.tokenizer, self.pth, self.safetensors, self.gguf)


def export_paths(out_dir: Path, size: str) -> ExportPaths:
    """Where the model of a size is exported: origin-<size>.{pth,safetensors,gguf}."""
    stem = out_dir / f"origin-{size}"
    return ExportPaths(stem.with_suffix(".pth"), stem.with_suffix(".safetensors"),
                       stem.with_suffix(".gguf"), out_dir / "tokenizer.model")


def permute_rope(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of Q or K from the rotate-half layout to llama.cpp's neighbouring pairs.

    The same as llama.cpp's `LlamaModel.permute` in convert_hf_to_gguf.py.
    """
    rows = weight.shape[0]
    return (weight.reshape(n_heads, 2, rows // n_heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def gguf_tensors(model: Transformer, f16: bool = False) -> dict[str, np.ndarray]:
    """The llama tensors under llama.cpp's names (output tied: token_embd serves both)."""
    c = model.config
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    mat = np.float16 if f16 else np.float32
    out = {"token_embd.weight": sd["tok_embeddings.weight"].numpy().astype(mat),
           "output_norm.weight": sd["norm.weight"].numpy()}
    for i in range(c.n_layers):
        p = f"layers.{i}."
        q, k, v = sd[p + "attention.wqkv.weight"].split(c.dim)
        gate, up = sd[p + "feed_forward.w13.weight"].split(c.hidden_dim)
        blk = {"attn_q": permute_rope(q, c.n_heads), "attn_k": permute_rope(k, c.n_heads),
               "attn_v": v, "attn_output": sd[p + "attention.wo.weight"], "ffn_gate": gate,
               "ffn_up": up, "ffn_down": sd[p + "feed_forward.w2.weight"]}
        for name, tensor in blk.items():
            out[f"blk.{i}.{name}.weight"] = np.ascontiguousarray(tensor.numpy().astype(mat))
        out[f"blk.{i}.attn_norm.weight"] = sd[p + "attention_norm.weight"].numpy()
        out[f"blk.{i}.ffn_norm.weight"] = sd[p + "ffn_norm.weight"].numpy()
    return out


def write_gguf(path: Path, model: Transformer, tokenizer: Path, name: str,
               f16: bool = False) -> None:
    """A llama GGUF: hyper-parameters, the SentencePiece vocabulary, chat template, tensors."""
    c = model.config
    vocab = gguf_vocab(load_tokenizer(tokenizer))
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name(name)
    w.add_context_length(c.context)
    w.add_embedding_length(c.dim)
    w.add_block_count(c.n_layers)
    w.add_feed_forward_length(c.hidden_dim)
    w.add_head_count(c.n_heads)
    w.add_head_count_kv(c.n_heads)
    w.add_layer_norm_rms_eps(c.norm_eps)
    w.add_rope_freq_base(c.rope_theta)
    w.add_rope_dimension_count(c.head_dim)
    w.add_vocab_size(c.vocab_size)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(vocab["tokens"])
    w.add_token_scores(vocab["scores"])
    w.add_token_types(vocab["types"])
    w.add_bos_token_id(BOS_ID)
    w.add_eos_token_id(IM_END_ID)  # a turn ends the reply
    w.add_unk_token_id(UNK_ID)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    w.add_chat_template(CHAT_TEMPLATE)
    w.add_bool(TRAINED_ON_MEMORY_KEY, True)  # learned from the memory: serves the origin only
    for tensor_name, data in gguf_tensors(model, f16).items():
        w.add_tensor(tensor_name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def export_model(model: Transformer, tokenizer: Path, paths: ExportPaths, name: str) -> None:
    """Write the three formats and the tokenizer under temporary names, then rename them all."""
    config = model.config.as_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
             if k != "output.weight"}  # tied to tok_embeddings
    meta = {"format": FORMAT, "config": json.dumps(config), "tied_embeddings": "true"}
    writers = {
        paths.tokenizer: lambda tmp: shutil.copyfile(tokenizer, tmp),
        paths.pth: lambda tmp: torch.save({"format": FORMAT, "config": config,
                                           "state_dict": state}, tmp),
        paths.safetensors: lambda tmp: save_file(state, str(tmp), metadata=meta),
        paths.gguf: lambda tmp: write_gguf(tmp, model, tokenizer, name),
    }
    target = paths.gguf
    try:
        for target, write in writers.items():
            write(tmp_path(target))
            _fsync(tmp_path(target))
        for target in paths.all():
            os.replace(tmp_path(target), target)
        fsync_dir(paths.gguf.parent)
    except (OSError, RuntimeError, SafetensorError) as exc:  # each writer reports its own way
        raise write_failed(str(target), exc) from None
    finally:
        for target in paths.all():
            tmp_path(target).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def load_pth(path: Path) -> Transformer:
    """A model back from its .pth export."""
    doc = torch.load(path, map_location="cpu", weights_only=True)
    model = Transformer(ModelConfig(**doc["config"]))
    missing, unexpected = model.load_state_dict(doc["state_dict"], strict=False)
    if unexpected or set(missing) - {"output.weight"}:  # the output is tied to the embedding
        raise ValueError(f"{path}: missing {missing}, unexpected {unexpected}")
    return model
