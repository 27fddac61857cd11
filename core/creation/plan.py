"""The creation circuit's file plan: its JSON schema and its validation.

A plan is untrusted model output. Every rule here refuses the whole plan (the
caller then writes the minimal scaffold and says why): a plan that tries one
hostile path is not trusted for the others.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from core.errors import PlanRejected

# Kept flat and small so a 135M model can follow it as a llama.cpp response_format schema.
PATH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}){0,3}$"
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "files": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10,
            "items": {
                "type": "object",
                "properties": {
                    # the pattern steers the model's grammar toward short relative paths;
                    # check_path() still validates every path on its own
                    "path": {"type": "string", "pattern": PATH_PATTERN},
                    "content": {"type": "string"},
                },
                "required": ["path", "content"],
            },
        },
    },
    "required": ["description", "files"],
}

MAX_FILES = 50
MAX_TOTAL_BYTES = 1024 * 1024
MAX_PATH_CHARS = 200
MAX_COMPONENT_CHARS = 100
MAX_COMPONENT_BYTES = 255  # the usual file-system limit on one name
MAX_RAW_CHARS = 4 * MAX_TOTAL_BYTES
MAX_DESCRIPTION_CHARS = 4000
MAX_NAME_CHARS = 200
# Names the echo writes itself or that carry meaning for tools; compared case-insensitively.
RESERVED_TOP = {"structure.json"}
RESERVED_ANYWHERE = {".git", ".hg", ".svn"}
README = "README.md"
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x1f\x7f\\:%*?\"<>|]")
_INVISIBLE = ("Zl", "Zp")
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class PlannedFile:
    """One file of a validated plan: a safe relative POSIX path and its text."""

    path: str
    content: str


@dataclass(frozen=True)
class Plan:
    """A validated plan: optional title, description, files (README.md content kept apart)."""

    name: str | None
    description: str
    files: list[PlannedFile]
    readme: str | None = None


def _reject(message: str, message_ko: str) -> PlanRejected:
    return PlanRejected(message, message_ko)


def _load(raw: str | dict[str, Any]) -> dict[str, Any]:
    """Parse the raw model text into a dict (code fences and chatter around the JSON tolerated)."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise _reject("the plan is not text or an object", "설계가 텍스트나 객체가 아닙니다")
    if len(raw) > MAX_RAW_CHARS:
        raise _reject("the plan is too large", "설계가 너무 큽니다")
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    if not text.startswith("{") and "{" in text and "}" in text:
        text = text[text.index("{") : text.rindex("}") + 1]
    try:
        # strict=False: small models put raw newlines inside JSON strings
        data = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        raise _reject("the plan is not valid JSON", "설계가 올바른 JSON이 아닙니다") from None
    if not isinstance(data, dict):
        raise _reject("the plan is not a JSON object", "설계가 JSON 객체가 아닙니다")
    return data


def _invisible(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "C" or category in _INVISIBLE


def check_path(path: object) -> str:
    """Return the normalized relative POSIX path, or raise PlanRejected naming the rule broken."""
    if not isinstance(path, str):
        raise _reject("a file path is not a string", "파일 경로가 문자열이 아닙니다")
    shown = repr(path[:60])
    while path.startswith("./"):
        path = path[2:]
    if not path.strip():
        raise _reject("a file path is empty", "파일 경로가 비어 있습니다")
    if len(path) > MAX_PATH_CHARS:
        raise _reject(
            f"a file path is longer than {MAX_PATH_CHARS} characters",
            f"파일 경로가 {MAX_PATH_CHARS}자보다 깁니다",
        )
    if path.startswith(("/", "~")):
        raise _reject(f"absolute path {shown} refused", f"절대 경로 {shown}는 거절됩니다")
    bad = _FORBIDDEN_CHARS.search(path)
    if bad:
        raise _reject(
            f"path {shown} has a forbidden character {bad.group()!r} "
            "(control characters, NUL, backslash, ':', '%', wildcards)",
            f"경로 {shown}에 쓸 수 없는 문자 {bad.group()!r}가 있습니다 "
            "(제어 문자, NUL, 역슬래시, ':', '%', 와일드카드)",
        )
    if any(_invisible(c) for c in path):
        raise _reject(
            f"path {shown} has an invisible or control character",
            f"경로 {shown}에 보이지 않는 문자나 제어 문자가 있습니다",
        )
    for part in path.split("/"):
        _check_component(part, shown)
    return path


def _check_component(part: str, shown: str) -> None:
    if part in ("", ".", ".."):
        raise _reject(
            f"path {shown} has an empty, '.' or '..' component",
            f"경로 {shown}에 빈 이름, '.' 또는 '..'이 있습니다",
        )
    if part != part.strip() or part.endswith("."):
        raise _reject(
            f"path {shown} has a name with surrounding spaces or a trailing dot",
            f"경로 {shown}의 이름 앞뒤에 공백이 있거나 점으로 끝납니다",
        )
    if len(part) > MAX_COMPONENT_CHARS or len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise _reject(
            f"path {shown} has a name longer than {MAX_COMPONENT_CHARS} characters",
            f"경로 {shown}에 {MAX_COMPONENT_CHARS}자보다 긴 이름이 있습니다",
        )
    if part.casefold() in RESERVED_ANYWHERE:
        raise _reject(f"path {shown} uses a reserved name", f"경로 {shown}는 예약된 이름을 씁니다")


def _check_files(entries: object) -> tuple[list[PlannedFile], str | None]:
    if not isinstance(entries, list) or not entries:
        raise _reject("the plan has no files", "설계에 파일이 없습니다")
    if len(entries) > MAX_FILES:
        raise _reject(
            f"the plan has {len(entries)} files, more than {MAX_FILES}",
            f"설계의 파일이 {len(entries)}개로 {MAX_FILES}개를 넘습니다",
        )
    files: list[PlannedFile] = []
    readme: str | None = None
    keys: set[str] = set()
    folders: set[str] = set()
    total = 0
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise _reject("a file entry has no text content", "파일 항목에 텍스트 내용이 없습니다")
        path, content = check_path(entry.get("path")), entry["content"]
        if "\x00" in content:
            raise _reject(
                f"file {path!r} contains NUL bytes", f"파일 {path!r}에 NUL 바이트가 있습니다"
            )
        try:
            total += len(content.encode("utf-8"))
        except UnicodeEncodeError:
            raise _reject(
                f"file {path!r} is not valid Unicode text",
                f"파일 {path!r}가 올바른 유니코드가 아닙니다",
            ) from None
        if total > MAX_TOTAL_BYTES:
            raise _reject(
                "the plan's files are larger than 1 MiB in total",
                "설계의 파일 합계가 1 MiB를 넘습니다",
            )
        key = path.casefold()
        if key in RESERVED_TOP:
            raise _reject(
                f"{path!r} is written by the echo itself", f"{path!r}는 에코가 직접 씁니다"
            )
        if key == README.casefold():
            readme = content if readme is None else readme + "\n\n" + content
            continue
        if PlannedFile(path, content) in files:
            continue  # small models repeat an entry word for word: keep one copy
        _check_collision(key, path, keys, folders)
        files.append(PlannedFile(path, content))
    return files, readme


def _check_collision(key: str, path: str, files: set[str], folders: set[str]) -> None:
    """Refuse duplicates (case-insensitively) and a file that is also another file's folder."""
    if key in files:
        raise _reject(f"file {path!r} appears twice", f"파일 {path!r}가 두 번 나옵니다")
    parts = key.split("/")
    prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
    if key in folders or prefixes & files:
        raise _reject(f"{path!r} is both a file and a folder", f"{path!r}가 파일이면서 폴더입니다")
    files.add(key)
    folders.update(prefixes)


def parse_plan(raw: str | dict[str, Any]) -> Plan:
    """Parse and validate a plan; raise PlanRejected (a BadInput) when it is unusable."""
    data = _load(raw)
    files, readme = _check_files(data.get("files"))
    description = data.get("description")
    name = data.get("name")
    return Plan(
        name=name.strip()[:MAX_NAME_CHARS] or None if isinstance(name, str) else None,
        description=description.strip()[:MAX_DESCRIPTION_CHARS]
        if isinstance(description, str)
        else "",
        files=files,
        readme=readme,
    )
