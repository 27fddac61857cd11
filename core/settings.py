"""The one Settings class: every ECHO_* variable, parsed in one place."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

CIRCUIT_NAMES: tuple[str, ...] = ("emotion", "creation", "self")
DEMO_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LORA_HELP = (
    "{} circuit's LoRA adapter: a .gguf made for its model (relative to ECHO_MODELS_DIR); "
    "'' = none."
)
SCALE_HELP = "How strongly the circuit's LoRA adapter applies (0 = the base alone, 1 = as trained)."
API_KEY_HELP = "{} circuit's API key for a remote (http) model, sent as a bearer token."
ORIGIN_ONLY_HELP = (
    "{} circuit answers the origin only (its model learned from the memory); "
    "a GGUF flagged echo_brain.trained_on_memory is origin-only whatever this says."
)
GUEST_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")  # fits the header's 30 characters
RESERVED_CALLER_NAMES = frozenset({"origin", "anonymous"})


class Settings(BaseSettings):
    """Echo Brain configuration from the environment and `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="ECHO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    emotion_model: str = Field(
        "", description="Emotion circuit: a .gguf path, 'echo', or 'http://host:port/v1#model'."
    )
    creation_model: str = Field(
        "", description="Creation circuit: a .gguf path, 'echo', or 'http://host:port/v1#model'."
    )
    self_model: str = Field(
        "", description="Self circuit: a .gguf path, 'echo', or 'http://host:port/v1#model'."
    )
    models_dir: Path = Field(Path("./models"), description="Where model files live.")
    emotion_lora: str = Field("", description=LORA_HELP.format("Emotion"))
    creation_lora: str = Field("", description=LORA_HELP.format("Creation"))
    self_lora: str = Field("", description=LORA_HELP.format("Self"))
    emotion_lora_scale: float = Field(
        1.0, ge=0, le=10, allow_inf_nan=False, description=SCALE_HELP
    )
    creation_lora_scale: float = Field(
        1.0, ge=0, le=10, allow_inf_nan=False, description=SCALE_HELP
    )
    self_lora_scale: float = Field(
        1.0, ge=0, le=10, allow_inf_nan=False, description=SCALE_HELP
    )
    emotion_api_key: SecretStr | None = Field(None, description=API_KEY_HELP.format("Emotion"))
    creation_api_key: SecretStr | None = Field(None, description=API_KEY_HELP.format("Creation"))
    self_api_key: SecretStr | None = Field(None, description=API_KEY_HELP.format("Self"))
    emotion_origin_only: bool = Field(False, description=ORIGIN_ONLY_HELP.format("Emotion"))
    creation_origin_only: bool = Field(False, description=ORIGIN_ONLY_HELP.format("Creation"))
    self_origin_only: bool = Field(False, description=ORIGIN_ONLY_HELP.format("Self"))
    cache_dir: Path | None = Field(
        None,
        description="Evaluated prompt prefixes on disk (unset = ECHO_MODELS_DIR/.cache/prefix).",
    )
    cache_max_mb: int = Field(
        2048, ge=0, le=10_000_000, description="Size bound of the prefix cache in MB (0 = off)."
    )
    n_gpu_layers: int = Field(-1, ge=-1, description="llama.cpp layers to offload (-1 = all).")
    n_ctx: int = Field(4096, ge=256, le=1_048_576, description="Context length per circuit.")
    n_threads: int | None = Field(
        None, ge=1, le=1024,
        description="CPU threads per circuit (unset = cores ÷ local circuits, at least 1).",
    )
    max_tokens: int = Field(256, ge=1, le=65_536, description="Reply length per circuit.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Sampling temperature (unset = the backend's default)."
    )
    circuit_timeout_s: float = Field(
        120.0, gt=0, le=86_400, description="Per-circuit deadline per request, seconds."
    )
    queue_size: int = Field(8, ge=1, le=10_000, description="Waiting requests per circuit.")
    merge: Literal["concat", "synthesize"] = Field(
        "concat", description="How the three replies become one."
    )
    context_lines: int = Field(
        6, ge=0, le=50, description="Remembered lines added to each circuit's prompt (0 = none)."
    )
    share_memory: bool = Field(
        False, description="Give remembered lines to callers other than the origin too."
    )
    recall_indexer: bool = Field(
        True, description="Run the background indexer (morphemes and vectors for recall)."
    )
    recall_nice: int = Field(
        19, ge=0, le=19, description="CPU niceness of the background indexer (19 = lowest)."
    )
    memory_dir: Path = Field(Path("./memory"), description="The archive.")
    memory_year: int | None = Field(
        None, ge=1900, le=9999,
        description="The year of the archive's day folders (unset = from each part's file time).",
    )
    memory_backup_dir: Path = Field(Path("./memory_backup"), description="Mirror of every append.")
    manifest_dir: Path = Field(Path("./manifest"), description="Declaration files.")
    origin_dir: Path = Field(Path("./origin"), description="Origin-only area.")
    part_lines: int = Field(395, ge=2, le=1_000_000, description="Lines per part file.")
    timezone: str | None = Field(None, description="Which day a turn belongs to (IANA name).")
    max_prompt_chars: int = Field(16_000, ge=1, description="Longer prompts get 413.")
    origin_token: SecretStr | None = Field(None, description="The origin's secret.")
    access_token: SecretStr | None = Field(
        None, description="Token for every /api and /v1 route: the guest named 'guest'."
    )
    guest_tokens: SecretStr | None = Field(
        None,
        description="Named guests: 'name:token,name2:token2' (names: a-z, 0-9, _ and -).",
    )
    metrics_token: SecretStr | None = Field(
        None, description="A token that may read /metrics only (for a Prometheus scraper)."
    )
    save_anonymous: bool = Field(
        False,
        description="Save turns of anonymous callers (no gate set) in memory/guests/anonymous/.",
    )
    guest_recall: bool = Field(
        True, description="A guest's own earlier turns are remembered for that guest."
    )
    recall_guests: bool = Field(
        False, description="The origin's /api/ask also remembers guests' lines, labelled."
    )
    allow_anonymous: bool = Field(
        False, description="Serve on a non-loopback address with no token gate (open door)."
    )
    allowed_hosts: str = Field(
        "",
        description="Host headers accepted, comma-separated ('*' = any; '' = loopback names "
        "when bound to loopback, any otherwise).",
    )
    host: str = Field(
        "0.0.0.0", validation_alias=AliasChoices("HOST", "host"), description="Listen address."
    )
    port: int = Field(
        8000,
        ge=1,
        le=65_535,
        validation_alias=AliasChoices("PORT", "port"),
        description="Listen port.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Asia/Seoul)"
            ) from exc
        return value

    @field_validator("emotion_lora", "creation_lora", "self_lora")
    @classmethod
    def _gguf_adapter(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().endswith(".gguf"):
            raise ValueError(f"a LoRA adapter is a .gguf file, got {value!r} ('' = none)")
        return value

    @field_validator("cache_dir", "n_threads", "temperature", "memory_year", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`ECHO_N_THREADS=` (as .env.example writes it) means unset, not a bad number."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("origin_token", "access_token", "guest_tokens", "metrics_token",
                     "emotion_api_key", "creation_api_key", "self_api_key")
    @classmethod
    def _blank_token_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @field_validator("guest_tokens")
    @classmethod
    def _guest_token_pairs(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_guest_tokens(value.get_secret_value())
        return value

    def guests(self) -> dict[str, str]:
        """Guest name -> token: ECHO_GUEST_TOKENS, and ECHO_ACCESS_TOKEN as the guest 'guest'."""
        text = self.guest_tokens.get_secret_value() if self.guest_tokens else ""
        named = parse_guest_tokens(text)
        if self.access_token is not None:
            named.setdefault("guest", self.access_token.get_secret_value())
        return named

    @property
    def gated(self) -> bool:
        """True when some token (guest or access) stands between the port and anonymous callers."""
        return bool(self.guests())

    def api_key(self, circuit: str) -> str | None:
        """The API key a remote circuit sends (None = none)."""
        key = getattr(self, f"{circuit}_api_key")
        return None if key is None else str(key.get_secret_value())

    def origin_only(self, circuit: str) -> bool:
        """Whether the settings mark a circuit as answering the origin only."""
        return bool(getattr(self, f"{circuit}_origin_only"))

    @property
    def prefix_cache_dir(self) -> Path:
        """Where the circuits keep their evaluated prefixes."""
        return self.cache_dir if self.cache_dir is not None else self.models_dir / ".cache/prefix"

    def model_spec(self, circuit: str) -> str:
        """The configured model string of one circuit ('' = the demo model)."""
        return str(getattr(self, f"{circuit}_model")).strip()

    def lora_spec(self, circuit: str) -> str:
        """The configured LoRA adapter of one circuit ('' = none)."""
        return str(getattr(self, f"{circuit}_lora"))

    def lora_scale(self, circuit: str) -> float:
        """How strongly the circuit's adapter applies."""
        return float(getattr(self, f"{circuit}_lora_scale"))


def parse_guest_tokens(text: str) -> dict[str, str]:
    """'name:token,...' -> {name: token}; a bad pair raises ValueError without the token."""
    named: dict[str, str] = {}
    for n, pair in enumerate(p for p in text.split(",") if p.strip()):
        name, sep, token = pair.strip().partition(":")
        name, token = name.strip(), token.strip()
        if not sep or not token or any(c.isspace() for c in token):
            raise ValueError(f"guest entry {n + 1} is not 'name:token'")
        if not GUEST_NAME_RE.fullmatch(name) or name in RESERVED_CALLER_NAMES:
            raise ValueError(
                f"guest name {name!r} must be 1-24 of a-z, 0-9, _ and -, "
                "and not 'origin' or 'anonymous'"
            )
        if name in named:
            raise ValueError(f"guest name {name!r} appears twice")
        named[name] = token
    return named


def _variable_name(field: str) -> str:
    name = field.lower()
    return name.upper() if name in ("host", "port") else f"ECHO_{name.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a bad value into a ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{_variable_name(field)}: {err['msg']}")
        detail = "; ".join(problems)
        raise ConfigError(
            f"Bad configuration: {detail}. Fix the variable in the environment or .env.",
            f"설정 값이 잘못되었습니다: {detail}. 환경 변수나 .env 파일에서 고치세요.",
        ) from None
