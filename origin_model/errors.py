"""Errors of `echo-brain train`: each says, in English and Korean, how to fix the problem."""

from __future__ import annotations

import errno

from core.errors import EchoBrainError

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class TrainError(EchoBrainError):
    """Training cannot start or go on; nothing half-written was left behind."""

    code = "train_failed"


class Interrupted(TrainError):
    """Stopped before a single training step: nothing was changed."""

    code = "interrupted"


def interrupted() -> Interrupted:
    """Ctrl-C or SIGTERM before training started."""
    return Interrupted(
        "Interrupted before training started: nothing was changed.",
        "학습이 시작되기 전에 중단되었습니다: 아무것도 바뀌지 않았습니다.",
    )


def no_archive(memory_dir: str) -> TrainError:
    """The memory folder holds no conversation to learn from."""
    return TrainError(
        f"No archive to train on in {memory_dir}: put day folders (dayMMDD/partN.txt) there, "
        "or point --memory-dir at the archive.",
        f"{memory_dir}에 학습할 기억 아카이브가 없습니다: dayMMDD/partN.txt 형식의 폴더를 넣거나 "
        "--memory-dir로 아카이브를 지정하세요.",
    )


def too_small(held_out: int, train: int, need: int) -> TrainError:
    """The archive is too small for a training and a validation split."""
    return TrainError(
        f"The archive is too small to train with a validation split: {train} training and "
        f"{held_out} held-out tokens, at least {need} of each are needed. Add more conversations.",
        f"아카이브가 너무 작아 검증용 분할을 만들 수 없습니다: 학습 토큰 {train}개, 검증 토큰 "
        f"{held_out}개이며 각각 최소 {need}개가 필요합니다. 대화를 더 넣으세요.",
    )


def disk_full(path: str, exc: OSError) -> TrainError:
    """Writing failed for lack of space; the previous files are intact."""
    return TrainError(
        f"Disk full while writing {path} ({exc.strerror or exc}): free some space and run again; "
        "the previous model files were left intact.",
        f"{path}를 쓰는 중 디스크가 가득 찼습니다({exc.strerror or exc}): 공간을 비우고 다시 "
        "실행하세요. 이전 모델 파일은 그대로 남아 있습니다.",
    )


def write_failed(path: str, exc: BaseException) -> TrainError:
    """Any write error, turned into the bilingual message (disk full gets its own)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return disk_full(path, exc)
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc)
        return TrainError(
            f"Cannot write {path}: {detail}. Check the --out folder and its permissions.",
            f"{path}를 쓸 수 없습니다: {detail}. --out 폴더와 권한을 확인하세요.",
        )
    detail = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
    return TrainError(  # torch, safetensors: their writers raise their own errors
        f"Cannot write {path} ({detail}): the disk may be full; free some space and run again. "
        "The previous model files were left intact.",
        f"{path}를 쓸 수 없습니다({detail}): 디스크가 가득 찼을 수 있습니다. 공간을 비우고 다시 "
        "실행하세요. 이전 모델 파일은 그대로 남아 있습니다.",
    )
