"""The window's recall views (Xvfb, a real server): indexing progress and remembered lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.dashboard.conftest import START_S
from tests.dashboard.ui import dashboard, pump_until, select
from tests.e2e_server import run_server

ECHO = {"ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_SELF_MODEL": "echo"}
ORIGIN = "dashboard-origin-token"
SAID = "등대지기 할아버지의 이야기를 제일 좋아해"


def test_the_ask_tab_shows_remembered_lines_and_the_server_tab_the_indexing(
    tmp_path: Path, display: str, screenshot: Callable[[str], Path]
) -> None:
    day = tmp_path / "srv" / "memory" / "day0701"
    day.mkdir(parents=True)
    (day / "part1.txt").write_text(f"나의 말:\n{SAID}\n", encoding="utf-8")
    env = {"ECHO_ORIGIN_TOKEN": ORIGIN, "ECHO_RECALL_NICE": "0", **ECHO}
    with run_server(tmp_path / "srv", start_timeout=START_S, **env) as server:
        server.wait_ready()
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        with dashboard(server.url, run_dir, server.log_path, token=ORIGIN) as app:
            facts = app.server_tab.facts
            pump_until(app, lambda: "회상 색인 · recall index: done 1/1" in str(
                facts.cget("text")), timeout=180)
            select(app, app.ask_tab, settle=0.2)
            app.ask_tab.prompt.insert("1.0", "등대지기 이야기 다시 해줘")
            app.ask_tab.send_button.invoke()
            pump_until(app, lambda: app.ask_tab.text_of("merged"), timeout=120)
            shown = app.ask_tab.text_of("remembered")
            assert f"day0701 · part 1 · line 2 · origin: {SAID}" in shown, shown
            screenshot("ask-remembered")
