"""The one Settings class: every ECHO_* variable, parsed in one place."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

CIRCUIT_NAMES: tuple[str, ...] = ("emotion", "creation", "self")
DEMO_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


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
    n_gpu_layers: int = Field(-1, ge=-1, description="llama.cpp layers to offload (-1 = all).")
    n_ctx: int = Field(4096, ge=256, le=1_048_576, description="Context length per circuit.")
    n_threads: int | None = Field(
        None, ge=1, le=1024, description="CPU threads per circuit (unset = llama.cpp's default)."
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
    memory_backup_dir: Path = Field(Path("./memory_backup"), description="Mirror of every append.")
    manifest_dir: Path = Field(Path("./manifest"), description="Declaration files.")
    origin_dir: Path = Field(Path("./origin"), description="Origin-only area.")
    part_lines: int = Field(395, ge=2, le=1_000_000, description="Lines per part file.")
    timezone: str | None = Field(None, description="Which day a turn belongs to (IANA name).")
    max_prompt_chars: int = Field(16_000, ge=1, description="Longer prompts get 413.")
    origin_token: SecretStr | None = Field(None, description="The origin's secret.")
    access_token: SecretStr | None = Field(None, description="Token for every /api and /v1 route.")
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

    @field_validator("origin_token", "access_token")
    @classmethod
    def _blank_token_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    def model_spec(self, circuit: str) -> str:
        """The configured model string of one circuit ('' = the demo model)."""
        return str(getattr(self, f"{circuit}_model")).strip()


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
