"""/docs and /redoc from files this server serves: nothing is loaded from a third-party host.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, on the same origin as the web page
that keeps the token in the browser: a script from elsewhere would run with that token in
reach. The assets come from the `fastapi-offline` wheel (Swagger UI: Apache-2.0; ReDoc: MIT),
and a Content-Security-Policy on both pages forbids any other origin.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

ASSETS = "/docs-assets"
# ReDoc's sidebar shows Redocly's logo from their CDN (the CSP would refuse it): ours instead
REDOC_LOGO = ("https://cdn.redoc.ly/redoc/logo-mini.svg", f"{ASSETS}/favicon.png")
# inline: FastAPI's page starts Swagger UI with an inline script; ReDoc injects its styles and
# runs its search in a blob: worker. Everything else: this origin only.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def assets_folder() -> Path:
    """Where the fastapi-offline wheel keeps swagger-ui-bundle.js, swagger-ui.css, redoc."""
    spec = find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: run scripts/setup.sh")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def redoc_script() -> bytes:
    """redoc.standalone.js with its one third-party image pointed at this server."""
    script = (assets_folder() / "redoc.standalone.js").read_bytes()
    return script.replace(REDOC_LOGO[0].encode(), REDOC_LOGO[1].encode())


def _private(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def install_docs(app: FastAPI) -> None:
    """Serve /docs, its OAuth2 redirect, /redoc and their assets (create the app with
    docs_url=None and redoc_url=None)."""
    @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
    async def redoc_js() -> Response:  # before the mount below, which would answer it first
        return Response(redoc_script(), media_type="text/javascript")

    app.mount(ASSETS, StaticFiles(directory=assets_folder()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _private(get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # never the online validator
        ))

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _private(get_swagger_ui_oauth2_redirect_html())

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _private(get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        ))
