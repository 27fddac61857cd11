"""/docs and /redoc in a real headless Chromium: both render, and every request the pages make
(scripts, styles, fonts, the OpenAPI document, workers) goes to this server and nowhere else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e_server import Server, run_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ECHO = {f"ECHO_{c}_MODEL": "echo" for c in ("EMOTION", "CREATION", "SELF")}
RENDERED = {"/docs": ".opblock-summary-path", "/redoc": "[data-section-id]"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("docs"), **ECHO) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("path", sorted(RENDERED))
def test_the_docs_render_from_this_server_alone(server: Server, browser: Browser,
                                                path: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    response = page.goto(server.url + path)
    assert response is not None and response.ok
    page.wait_for_selector(RENDERED[path])  # the page drew the API: /api/ask is listed
    page.wait_for_load_state("networkidle")
    assert "/api/ask" in page.content()
    context.close()
    elsewhere = [u for u in requested
                 if not u.startswith((server.url + "/", "data:", "blob:"))]
    assert elsewhere == [], elsewhere
    assert server.url + "/openapi.json" in requested
    assert any("/docs-assets/" in u for u in requested)
    assert problems == [], problems  # nothing refused by the CSP, no script error
