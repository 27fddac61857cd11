"""Errors of `echo-brain tune`: each says, in English and Korean, how to fix the problem."""

from __future__ import annotations

from origin_model.errors import TrainError

SUPPORTED = ("llama",)


class TuneError(TrainError):
    """Tuning cannot start or go on; nothing half-written was left behind."""

    code = "tune_failed"


def unknown_circuit(circuit: str, names: tuple[str, ...]) -> TuneError:
    """--circuit names no circuit."""
    return TuneError(
        f"No circuit named {circuit!r}: choose one of {', '.join(names)}.",
        f"{circuit!r}이라는 회로는 없습니다: {', '.join(names)} 중에서 고르세요.",
    )


def not_local(circuit: str, spec: str) -> TuneError:
    """The circuit runs no GGUF here ('echo' or a remote URL)."""
    return TuneError(
        f"The {circuit} circuit runs {spec!r}, not a GGUF file here: set "
        f"ECHO_{circuit.upper()}_MODEL to a .gguf file to tune it.",
        f"{circuit} 회로는 이 기계의 GGUF 파일이 아니라 {spec!r}을 씁니다: 조정하려면 "
        f"ECHO_{circuit.upper()}_MODEL을 .gguf 파일로 지정하세요.",
    )


def missing_model(circuit: str, path: str) -> TuneError:
    """The circuit's model file is not there."""
    return TuneError(
        f"The {circuit} circuit's model file is missing: {path}. Run `make setup` for the demo "
        f"model or set ECHO_{circuit.upper()}_MODEL.",
        f"{circuit} 회로의 모델 파일이 없습니다: {path}. 데모 모델은 `make setup`으로 받거나 "
        f"ECHO_{circuit.upper()}_MODEL을 지정하세요.",
    )


def corrupt_gguf(path: str, detail: str) -> TuneError:
    """The file is not a readable GGUF."""
    return TuneError(
        f"{path} is not a readable GGUF file ({detail}): download the model again or point "
        "the circuit at another file.",
        f"{path}는 읽을 수 있는 GGUF 파일이 아닙니다({detail}): 모델을 다시 받거나 다른 파일을 "
        "지정하세요.",
    )


def unsupported_arch(path: str, arch: str) -> TuneError:
    """The model's architecture is not one this trainer runs."""
    return TuneError(
        f"{path} is a {arch!r} model; `echo-brain tune` supports {', '.join(SUPPORTED)} "
        "(Llama, SmolLM, TinyLlama, Mistral-style GGUFs) only.",
        f"{path}는 {arch!r} 구조의 모델입니다; `echo-brain tune`은 {', '.join(SUPPORTED)} "
        "구조(Llama, SmolLM, TinyLlama, Mistral 계열 GGUF)만 지원합니다.",
    )


def unsupported_type(path: str, name: str, kind: str) -> TuneError:
    """A weight is stored in a quantization this trainer cannot read."""
    return TuneError(
        f"{path}: tensor {name} is stored as {kind}, which `echo-brain tune` cannot dequantize "
        "(supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K).",
        f"{path}: 텐서 {name}의 형식 {kind}은 `echo-brain tune`이 풀 수 없습니다 "
        "(지원: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K).",
    )


def resume_mismatch(detail: str) -> TuneError:
    """--resume with a checkpoint made for another base or rank."""
    return TuneError(
        f"The checkpoint was made for another run ({detail}): run without --resume to start "
        "over, or with the same circuit model, --rank and --alpha.",
        f"체크포인트가 다른 실행의 것입니다({detail}): --resume 없이 처음부터 하거나 같은 회로 "
        "모델, --rank, --alpha로 이어서 하세요.",
    )
