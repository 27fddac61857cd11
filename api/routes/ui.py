"""The web chat page: GET /ui, and its static files from the repo's `ui/` folder (StaticFiles)."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Scope

from core.errors import NotFound

UI_DIR = Path(__file__).resolve().parents[2] / "ui"

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

router = APIRouter(tags=["ui"])


class UiFiles(StaticFiles):
    """The UI folder's files with the page's security headers; a missing one is a JSON 404."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, or NotFound (bilingual) instead of Starlette's plain 404."""
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code == 404:
                raise NotFound(
                    f"no such UI file: {path!r}; the page is at /ui",
                    f"그런 UI 파일이 없습니다: {path!r}. 페이지는 /ui 에 있습니다.",
                ) from None
            raise
        response.headers.update(SECURITY_HEADERS)
        return response


def static_files(ui_dir: Path = UI_DIR) -> UiFiles:
    """The app to mount at /ui (after the routes below, which it must not shadow)."""
    return UiFiles(directory=ui_dir)


@router.get("/ui", response_class=Response, responses={200: {"content": {"text/html": {}}}})
async def ui_page() -> Response:
    """The web chat page: the three circuits side by side and the merged reply, streaming."""
    return FileResponse(
        os.fspath(UI_DIR / "index.html"),
        media_type="text/html; charset=utf-8",
        headers=SECURITY_HEADERS,
    )


@router.get("/ui/", include_in_schema=False)
async def ui_slash() -> RedirectResponse:
    """The page lives at /ui."""
    return RedirectResponse("/ui", status_code=308)
