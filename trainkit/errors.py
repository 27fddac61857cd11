"""Errors of `echo-brain train` and `echo-brain tune`: each says, in English and Korean, how to
fix the problem. One family: the commands catch TrainError; tune's own are TuneErrors.

The messages stand together in MESSAGES (English, Korean; `str.format` fields), the
factories below name and type what each one needs.
"""

from __future__ import annotations

import errno
from typing import Any, NamedTuple

from core.errors import EchoBrainError

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
SUPPORTED = ("llama",)
QUANTS = "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K"


class TrainError(EchoBrainError):
    """Training cannot start or go on; nothing half-written was left behind."""

    code = "train_failed"


class Interrupted(TrainError):
    """Stopped before a single training step: nothing was changed."""

    code = "interrupted"


class TuneError(TrainError):
    """Tuning cannot start or go on (the circuit's GGUF, the checkpoint's base)."""

    code = "tune_failed"


class Message(NamedTuple):
    """One message in both languages, with `str.format` fields."""

    en: str
    ko: str

    def fill(self, **fields: Any) -> tuple[str, str]:
        """Both texts with the fields filled in."""
        return self.en.format(**fields), self.ko.format(**fields)


MESSAGES = {
    "interrupted": Message(
        "Interrupted before training started: nothing was changed.",
        "학습이 시작되기 전에 중단되었습니다: 아무것도 바뀌지 않았습니다."),
    "no_archive": Message(
        "No archive to train on in {memory_dir}: put day folders (dayMMDD/partN.txt) there, "
        "or point --memory-dir at the archive.",
        "{memory_dir}에 학습할 기억 아카이브가 없습니다: dayMMDD/partN.txt 형식의 폴더를 넣거나 "
        "--memory-dir로 아카이브를 지정하세요."),
    "too_small": Message(
        "The archive is too small to train with a validation split: {train} training and "
        "{held_out} held-out tokens, at least {need} of each are needed. Add more conversations.",
        "아카이브가 너무 작아 검증용 분할을 만들 수 없습니다: 학습 토큰 {train}개, 검증 토큰 "
        "{held_out}개이며 각각 최소 {need}개가 필요합니다. 대화를 더 넣으세요."),
    "disk_full": Message(
        "Disk full while writing {path} ({detail}): free some space and run again; the previous "
        "model files were left intact.",
        "{path}를 쓰는 중 디스크가 가득 찼습니다({detail}): 공간을 비우고 다시 실행하세요. 이전 "
        "모델 파일은 그대로 남아 있습니다."),
    "cannot_write": Message(
        "Cannot write {path}: {detail}. Check the --out folder and its permissions.",
        "{path}를 쓸 수 없습니다: {detail}. --out 폴더와 권한을 확인하세요."),
    "write_failed": Message(  # torch, safetensors: their writers raise their own errors
        "Cannot write {path} ({detail}): the disk may be full; free some space and run again. "
        "The previous model files were left intact.",
        "{path}를 쓸 수 없습니다({detail}): 디스크가 가득 찼을 수 있습니다. 공간을 비우고 다시 "
        "실행하세요. 이전 모델 파일은 그대로 남아 있습니다."),
    "unreadable_checkpoint": Message(
        "The checkpoint {path} cannot be read ({kind}): run without --resume to start over.",
        "체크포인트 {path}를 읽을 수 없습니다({kind}): --resume 없이 실행해 처음부터 다시 "
        "하세요."),
    "size_mismatch": Message(
        "The checkpoint is a '{saved}' model: resume with --size {saved}, or run without "
        "--resume to train a new one.",
        "체크포인트는 '{saved}' 모델입니다: --size {saved}로 이어서 학습하거나 --resume 없이 새로 "
        "학습하세요."),
    "resume_mismatch": Message(
        "The checkpoint was made for another run ({detail}): run without --resume to start "
        "over, or with the same circuit model, --rank and --alpha.",
        "체크포인트가 다른 실행의 것입니다({detail}): --resume 없이 처음부터 하거나 같은 회로 "
        "모델, --rank, --alpha로 이어서 하세요."),
    "unknown_circuit": Message(
        "No circuit named {circuit!r}: choose one of {names}.",
        "{circuit!r}이라는 회로는 없습니다: {names} 중에서 고르세요."),
    "not_local": Message(
        "The {circuit} circuit runs {spec!r}, not a GGUF file here: set {variable} to a .gguf "
        "file to tune it.",
        "{circuit} 회로는 이 기계의 GGUF 파일이 아니라 {spec!r}을 씁니다: 조정하려면 {variable}을 "
        ".gguf 파일로 지정하세요."),
    "missing_model": Message(
        "The {circuit} circuit's model file is missing: {path}. Run `make setup` for the demo "
        "model or set {variable}.",
        "{circuit} 회로의 모델 파일이 없습니다: {path}. 데모 모델은 `make setup`으로 받거나 "
        "{variable}을 지정하세요."),
    "corrupt_gguf": Message(
        "{path} is not a readable GGUF file ({detail}): download the model again or point the "
        "circuit at another file.",
        "{path}는 읽을 수 있는 GGUF 파일이 아닙니다({detail}): 모델을 다시 받거나 다른 파일을 "
        "지정하세요."),
    "unsupported_arch": Message(
        "{path} is a {arch!r} model; `echo-brain tune` supports {names} (Llama, SmolLM, "
        "TinyLlama, Mistral-style GGUFs) only.",
        "{path}는 {arch!r} 구조의 모델입니다; `echo-brain tune`은 {names} 구조(Llama, SmolLM, "
        "TinyLlama, Mistral 계열 GGUF)만 지원합니다."),
    "unsupported_type": Message(
        "{path}: tensor {name} is stored as {kind}, which `echo-brain tune` cannot dequantize "
        "(supported: {kinds}).",
        "{path}: 텐서 {name}의 형식 {kind}은 `echo-brain tune`이 풀 수 없습니다 (지원: {kinds})."),
}


def interrupted() -> Interrupted:
    """Ctrl-C or SIGTERM before training started."""
    return Interrupted(*MESSAGES["interrupted"].fill())


def no_archive(memory_dir: str) -> TrainError:
    """The memory folder holds no conversation to learn from."""
    return TrainError(*MESSAGES["no_archive"].fill(memory_dir=memory_dir))


def too_small(held_out: int, train: int, need: int) -> TrainError:
    """The archive is too small for a training and a validation split."""
    return TrainError(*MESSAGES["too_small"].fill(held_out=held_out, train=train, need=need))


def write_failed(path: str, exc: BaseException) -> TrainError:
    """Any write error, turned into the bilingual message (disk full gets its own)."""
    if isinstance(exc, OSError):
        kind = "disk_full" if exc.errno in DISK_FULL else "cannot_write"
        return TrainError(*MESSAGES[kind].fill(path=path, detail=exc.strerror or str(exc)))
    text = str(exc).strip()
    detail = text.splitlines()[-1][:200] if text else type(exc).__name__
    return TrainError(*MESSAGES["write_failed"].fill(path=path, detail=detail))


def unreadable_checkpoint(path: str, exc: BaseException) -> TrainError:
    """A truncated or foreign checkpoint."""
    return TrainError(*MESSAGES["unreadable_checkpoint"].fill(path=path,
                                                                kind=type(exc).__name__))


def size_mismatch(saved: str, asked: str) -> TrainError:
    """--resume with another --size than the checkpoint's."""
    return TrainError(*MESSAGES["size_mismatch"].fill(saved=saved, asked=asked))


def resume_mismatch(detail: str) -> TuneError:
    """--resume with a checkpoint made for another base model, rank or alpha."""
    return TuneError(*MESSAGES["resume_mismatch"].fill(detail=detail))


def unknown_circuit(circuit: str, names: tuple[str, ...]) -> TuneError:
    """--circuit names no circuit."""
    return TuneError(*MESSAGES["unknown_circuit"].fill(circuit=circuit, names=", ".join(names)))


def not_local(circuit: str, spec: str) -> TuneError:
    """The circuit runs no GGUF here ('echo' or a remote URL)."""
    variable = f"ECHO_{circuit.upper()}_MODEL"
    return TuneError(*MESSAGES["not_local"].fill(circuit=circuit, spec=spec, variable=variable))


def missing_model(circuit: str, path: str) -> TuneError:
    """The circuit's model file is not there."""
    variable = f"ECHO_{circuit.upper()}_MODEL"
    return TuneError(*MESSAGES["missing_model"].fill(circuit=circuit, path=path,
                                                       variable=variable))


def corrupt_gguf(path: str, detail: str) -> TuneError:
    """The file is not a readable GGUF."""
    return TuneError(*MESSAGES["corrupt_gguf"].fill(path=path, detail=detail))


def unsupported_arch(path: str, arch: str) -> TuneError:
    """The model's architecture is not one this trainer runs."""
    return TuneError(*MESSAGES["unsupported_arch"].fill(path=path, arch=arch,
                                                          names=", ".join(SUPPORTED)))


def unsupported_type(path: str, name: str, kind: str) -> TuneError:
    """A weight is stored in a quantization this trainer cannot read."""
    return TuneError(*MESSAGES["unsupported_type"].fill(path=path, name=name, kind=kind,
                                                          kinds=QUANTS))
