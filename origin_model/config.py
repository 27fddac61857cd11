"""Model sizes and training settings (no torch here: the CLI reads them for --help)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from trainkit.config import RunConfig

VOCAB_SIZE = 4096
CONTEXT = 256
SPECIALS = ("<|im_start|>", "<|im_end|>")
UNK_ID, BOS_ID, EOS_ID, IM_START_ID, IM_END_ID = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class ModelConfig:
    """The llama architecture's hyper-parameters; every width a multiple of 32."""

    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    hidden_dim: int
    context: int = CONTEXT
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.dim // self.n_heads

    def as_dict(self) -> dict[str, Any]:
        """JSON form (checkpoints, safetensors metadata, train.json)."""
        return asdict(self)


# (dim, layers, heads, SwiGLU hidden): nano ≈ 1.5M and small ≈ 4.5M parameters with a
# 4,096-piece vocabulary (the seed's two sizes), heads of 32.
SIZES: dict[str, tuple[int, int, int, int]] = {
    "nano": (128, 5, 4, 352),
    "small": (256, 4, 8, 768),
}


def model_config(size: str, vocab_size: int, context: int = CONTEXT) -> ModelConfig:
    """The ModelConfig of a named size for a tokenizer of vocab_size pieces."""
    dim, layers, heads, hidden = SIZES[size]
    return ModelConfig(vocab_size, dim, layers, heads, hidden, context)


def parameter_count(config: ModelConfig) -> int:
    """Parameters of the model (tied embeddings counted once)."""
    attn = 4 * config.dim * config.dim
    mlp = 3 * config.dim * config.hidden_dim
    per_layer = attn + mlp + 2 * config.dim
    return config.vocab_size * config.dim + config.n_layers * per_layer + config.dim


@dataclass
class TrainConfig(RunConfig):
    """How long and how hard to train which size (the schedule's fields are the kit's)."""

    size: str = "nano"
    lr: float = 4e-3  # the kit's 2e-3 before issue 24: chosen by the served-format figure
    # what the loss counts: the assistant turns' tokens ('replies': what the model is served
    # for; BENCHMARKS.md, "Origin model training") or every token ('all', before issue 24)
    targets: str = "replies"
