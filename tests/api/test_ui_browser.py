"""GET /ui in a real headless Chromium against a real server with the demo model loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from tests.e2e_server import Server, run_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ACCESS_TOKEN = "ui-test-access-token"
ORIGIN_TOKEN = "ui-test-origin-token"
REMEMBERED = "등대지기 할아버지의 이야기를 제일 좋아해"
STORY = "Tell me a short story about the sea."
CIRCUITS = ("emotion", "creation", "self")

# Installed before the page's own script: after every batch of DOM changes (one per chunk the
# page read from the stream) it records how much text each pane and the merged reply hold.
RECORDER = """
window.__snapshots = [];
new MutationObserver(() => {
  const text = (sel) => (document.querySelector(sel)?.textContent ?? "").length;
  window.__snapshots.push({
    emotion: text("#pane-emotion .pane-text"),
    creation: text("#pane-creation .pane-text"),
    self: text("#pane-self .pane-text"),
    reply: text("#reply"),
    streaming: [...document.querySelectorAll(".pane[data-state=streaming]")].length,
  });
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server (demo model, short replies) that wants an access token; its archive
    holds one line the origin said."""
    cwd = tmp_path_factory.mktemp("ui")
    (cwd / "memory" / "day0601").mkdir(parents=True)
    (cwd / "memory" / "day0601" / "part1.txt").write_text(f"나의 말:\n{REMEMBERED}\n", "utf-8")
    tokens = {"ECHO_ACCESS_TOKEN": ACCESS_TOKEN, "ECHO_ORIGIN_TOKEN": ORIGIN_TOKEN}
    with run_server(cwd, ECHO_MAX_TOKENS="32", **tokens) as srv:
        srv.wait_ready()
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


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh browser context (empty storage) on the chat page."""
    # bypass_csp: the page forbids eval, which Playwright's wait_for_function needs.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/ui")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def pane_text(page: Page, circuit: str) -> str:
    """The text of one circuit's pane."""
    return page.locator(f"#pane-{circuit} .pane-text").text_content() or ""


def send(page: Page, prompt: str, token: str = ACCESS_TOKEN) -> None:
    """Fill the token and the prompt, then press Enter in the prompt box."""
    page.fill("#token", token)
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")


def test_page_and_assets_are_served(server: Server) -> None:
    page = httpx.get(server.url + "/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "감정" in page.text and "Emotion" in page.text and "/ui/app.js" in page.text
    assert httpx.get(server.url + "/ui/", follow_redirects=True).text == page.text
    script = httpx.get(server.url + "/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    missing = httpx.get(server.url + "/ui/missing.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] and missing.json()["error"]["message_ko"]
    for outside in ("/ui/..%2Fpyproject.toml", "/ui/%2E%2E%2Fapi%2Fapp.py", "/ui/.gitignore"):
        assert httpx.get(server.url + outside).status_code == 404, outside


def test_three_panes_stream_then_the_merged_reply_appears(page: Page) -> None:
    send(page, STORY)
    page.wait_for_selector("#merged[data-state=done]")

    texts = {name: pane_text(page, name) for name in CIRCUITS}
    reply = page.locator("#reply").text_content() or ""
    assert all(texts.values()), texts
    for name, text in texts.items():
        assert text in reply, (name, text, reply)
        assert page.locator(f"#pane-{name}").get_attribute("data-state") == "done"
        assert "ms" in (page.locator(f"#pane-{name} .pane-meta").text_content() or "")
    assert page.locator("#kind").get_attribute("data-kind") == "echo"

    # Streaming, not one answer at the end: the page saw pane text grow over several separate
    # reads while the merged reply was still empty.
    snapshots: list[dict[str, Any]] = page.evaluate("window.__snapshots")
    partial = [s for s in snapshots if s["reply"] == 0 and s["streaming"] > 0
               and any(s[name] > 0 for name in CIRCUITS)]
    assert partial, f"no pane had text before the merged reply: {snapshots[-5:]}"
    growth = {tuple(s[name] for name in CIRCUITS) for s in partial}
    assert len(growth) >= 3, f"pane text did not grow token by token: {sorted(growth)}"
    assert not page.locator("#error").is_visible()


def test_an_error_shows_both_messages(page: Page) -> None:
    send(page, "a" * 20_000)
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.get_attribute("data-status") == "413"
    assert error.get_attribute("data-code") == "too_large"
    english = page.locator("#error .error-en").text_content() or ""
    korean = page.locator("#error .error-ko").text_content() or ""
    assert "ECHO_MAX_PROMPT_CHARS" in english
    assert korean and any("\uac00" <= ch <= "\ud7a3" for ch in korean), korean
    assert page.locator("#reply").text_content() == ""


def test_token_stays_in_the_browser_and_goes_out_as_bearer(page: Page) -> None:
    sent: list[str | None] = []

    def remember(request: Request) -> None:
        if request.url.endswith("/api/ask"):
            sent.append(request.headers.get("authorization"))

    page.on("request", remember)

    send(page, "Hello there.", token="wrong-token")
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.get_attribute("data-status") == "401"
    assert "토큰" in (page.locator("#error .error-ko").text_content() or "")
    assert sent == ["Bearer wrong-token"]

    send(page, "Hello there.")
    page.wait_for_selector("#merged[data-state=done]")
    assert page.locator("#reply").text_content()
    assert not error.is_visible()
    assert sent == ["Bearer wrong-token", f"Bearer {ACCESS_TOKEN}"]

    assert page.locator("#token").get_attribute("type") == "password"
    assert page.evaluate("sessionStorage.getItem('echo-brain.token')") == ACCESS_TOKEN
    assert page.evaluate("localStorage.getItem('echo-brain.token')") is None
    assert ACCESS_TOKEN not in page.url and "token" not in page.url

    page.reload()
    assert page.locator("#token").input_value() == ACCESS_TOKEN


def test_the_origin_sees_the_remembered_lines_under_the_answer(page: Page) -> None:
    send(page, "등대지기 이야기 다시 해줘", token=ORIGIN_TOKEN)
    page.wait_for_selector("#merged[data-state=done]")
    remembered = page.locator("#remembered")
    assert remembered.is_visible()
    remembered.locator("summary").click()
    lines = page.locator("#remembered .remembered-lines li")
    assert REMEMBERED in (lines.first.text_content() or "")
    assert "day0601 · part 1 · line 2" in (lines.first.text_content() or "")

    send(page, "등대지기 이야기 다시 해줘")  # the access token: not the origin
    page.wait_for_selector("#merged[data-state=done]")
    assert not remembered.is_visible()
