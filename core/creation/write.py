"""The atomic write of a created project: temp folder inside origin/projects, then rename.

Paths reaching here were validated by `core.creation.plan`; this module still
never follows a symlink, never creates one, and checks that every file it
wrote lies inside the project folder before the rename makes it visible.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import Conflict, Forbidden, ProjectWriteError
from core.fsio import PRIVATE_DIR, create_new, fsync_dir, private_dir

STRUCTURE = "structure.json"
TMP_PREFIX = ".tmp-"
_RENAME_LOCK = threading.Lock()


def projects_root(origin_dir: Path) -> Path:
    """origin/projects/, created when missing; refused when it is a symlink or not a folder."""
    projects = origin_dir / "projects"
    try:
        private_dir(origin_dir)
        if not projects.is_symlink():
            private_dir(projects)
    except OSError as exc:
        raise _write_error(exc) from None
    if projects.is_symlink() or not projects.is_dir():
        raise Forbidden(
            "origin/projects is a symlink or not a folder; project creation is refused "
            "(make it a plain folder inside ECHO_ORIGIN_DIR).",
            "origin/projects가 심볼릭 링크이거나 폴더가 아니어서 프로젝트 생성을 거절합니다 "
            "(ECHO_ORIGIN_DIR 안의 일반 폴더로 만드세요).",
        )
    return projects


def _conflict(slug: str) -> Conflict:
    return Conflict(
        f"A project named '{slug}' exists already; choose another name or remove "
        f"origin/projects/{slug} first.",
        f"'{slug}' 프로젝트가 이미 있습니다. 다른 이름을 쓰거나 origin/projects/{slug}를 먼저 "
        "지우세요.",
    )


def refuse_existing(projects: Path, slug: str) -> None:
    """Raise Conflict when anything (folder, file or symlink) already has the project's name."""
    if os.path.lexists(projects / slug):
        raise _conflict(slug)


def prepare_folder(origin_dir: Path, slug: str) -> Path:
    """origin/projects/ ready for a project named `slug` (Conflict if the name is taken)."""
    projects = projects_root(origin_dir)
    refuse_existing(projects, slug)
    return projects


def _write_error(exc: OSError) -> ProjectWriteError:
    reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
    return ProjectWriteError(
        f"The project could not be written ({reason}); nothing was kept. "
        "Check the free space and permissions of ECHO_ORIGIN_DIR.",
        f"프로젝트를 쓰지 못했습니다({reason}). 아무것도 남기지 않았습니다. "
        "ECHO_ORIGIN_DIR의 여유 공간과 권한을 확인하세요.",
    )


def _write_file(root: Path, rel: str, data: bytes) -> None:
    """Create one new file under root (never through a symlink, never over an existing file)."""
    target = root.joinpath(*rel.split("/"))
    private_dir(target.parent)
    if not target.parent.resolve().is_relative_to(root.resolve()):
        raise OSError(errno.EXDEV, f"{rel!r} leaves the project folder")
    create_new(target, data)


def _files_on_disk(root: Path) -> list[str]:
    """Every file under root as a relative POSIX path; a symlink or odd entry is an error."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in (*dirnames, *filenames):
            full = Path(dirpath, entry)
            if full.is_symlink() or not (full.is_dir() or full.is_file()):
                raise OSError(errno.EPERM, f"unexpected entry {entry!r} in the project")
        found += [Path(dirpath, f).relative_to(root).as_posix() for f in filenames]
    return sorted(found)


def _structure(metadata: dict[str, Any], contents: dict[str, bytes]) -> bytes:
    """structure.json: metadata and every other file (it cannot hold its own hash)."""
    document = {
        **metadata,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": "echo-brain",
        "files": [
            {"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for rel, data in sorted(contents.items())
        ],
        "structure_file": f"{STRUCTURE} lists every file of the project except itself",
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _rename_into_place(tmp: Path, dest: Path, slug: str) -> None:
    with _RENAME_LOCK:
        if os.path.lexists(dest):
            raise _conflict(slug)
        try:
            os.rename(tmp, dest)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise _conflict(slug) from None
            raise


def write_project(
    projects: Path, slug: str, texts: dict[str, str], metadata: dict[str, Any]
) -> list[str]:
    """Write texts + structure.json into a temp folder and rename it to projects/slug."""
    contents = {rel: text.encode("utf-8") for rel, text in texts.items()}
    tmp = projects / f"{TMP_PREFIX}{slug}-{secrets.token_hex(6)}"
    try:
        os.mkdir(tmp, PRIVATE_DIR)
    except OSError as exc:
        raise _write_error(exc) from None
    try:
        for rel, data in contents.items():
            _write_file(tmp, rel, data)
        _write_file(tmp, STRUCTURE, _structure(metadata, contents))
        files = _files_on_disk(tmp)
        if set(files) != {*contents, STRUCTURE}:
            raise OSError(errno.EIO, "the files on disk differ from the plan")
        fsync_dir(tmp)
        _rename_into_place(tmp, projects / slug, slug)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        fsync_dir(projects)
    except OSError:
        pass  # the project is in place; only the rename's durability is best effort
    return files
