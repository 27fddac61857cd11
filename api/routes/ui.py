"""The web chat page: GET /ui and its static files from the repo's `ui/` folder."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from core.errors import NotFound

UI_DIR = Path(__file__).resolve().parents[2] / "ui"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# No inline script or style and nothing from elsewhere: the page only talks to this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

ASSET_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")

router = APIRouter(tags=["ui"])


def _not_found(name: str) -> NotFound:
    return NotFound(
        f"no such UI file: {name!r}; the page is at /ui",
        f"그런 UI 파일이 없습니다: {name!r}. 페이지는 /ui 에 있습니다.",
    )


def ui_file(name: str, ui_dir: Path = UI_DIR) -> Response:
    """One file of the UI folder with its media type, or NotFound."""
    path = ui_dir / name
    media_type = MEDIA_TYPES.get(path.suffix.lower())
    if not ASSET_NAME.fullmatch(name) or media_type is None or not path.is_file():
        raise _not_found(name)
    return Response(path.read_bytes(), media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/ui", response_class=Response, responses={200: {"content": {"text/html": {}}}})
async def ui_page() -> Response:
    """The web chat page: the three circuits side by side and the merged reply, streaming."""
    return ui_file("index.html")


@router.get("/ui/", include_in_schema=False)
async def ui_slash() -> RedirectResponse:
    """The page lives at /ui."""
    return RedirectResponse("/ui", status_code=308)


@router.get("/ui/{name}", response_class=Response, include_in_schema=False)
async def ui_asset(name: str) -> Response:
    """A static file of the web chat page (script, style sheet, icon)."""
    return ui_file(name)
