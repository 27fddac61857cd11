"""Creation commands (만들어줘, `create project:`): recognize them, name the project.

These decide who may order a creation and what the project folder is called; the
plan and the write are in `core.creation.plan` and `core.creation.write`.
"""

from __future__ import annotations

import re
import unicodedata

_CREATE_PREFIX = re.compile(r"^\s*create project\s*:", re.IGNORECASE)
_MAKE_IT = re.compile(r"만들어\s*줘")
_SLUG_KEEP = re.compile(r"[^a-z0-9\uac00-\ud7a3\u1100-\u11ff\u3131-\u318e]+")
_SLUG_MAX_BYTES = 200


def is_creation_command(prompt: str) -> bool:
    """True for a prompt containing 만들어줘 or starting with 'create project:'."""
    text = unicodedata.normalize("NFC", prompt)
    return bool(_MAKE_IT.search(text) or _CREATE_PREFIX.match(text))


def command_text(prompt: str) -> str:
    """The request itself: the prompt without the command words."""
    text = _CREATE_PREFIX.sub("", unicodedata.normalize("NFC", prompt), count=1)
    return " ".join(_MAKE_IT.sub(" ", text).split())


def slugify(prompt: str, max_len: int = 48) -> str:
    """A folder name from a prompt or name: Hangul and ASCII letters/digits, '-', bounded."""
    text = unicodedata.normalize("NFC", command_text(prompt)).lower()
    slug = _SLUG_KEEP.sub("-", text).strip("-")
    slug = slug[: max(1, max_len)].strip("-")
    while len(slug.encode("utf-8")) > _SLUG_MAX_BYTES:
        slug = slug[:-1].strip("-")
    return slug if slug not in ("", ".", "..") else "project"


def planner_prompt(prompt: str) -> str:
    """The instruction the creation circuit gets for a creation command."""
    return (
        "Plan a small software project for the request below. Answer with JSON only: "
        '{"name": short name, "description": one paragraph, '
        '"files": [{"path": relative path like "main.py", "content": full file text}]}. '
        "Use relative paths only, at most a few files.\n"
        f"Request: {command_text(prompt) or prompt}"
    )
