"""The window under a real X server (Xvfb) against a real `echo-brain serve` (echo backends)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard.conftest import START_S
from tests.dashboard.ui import dashboard, pump_for, pump_until, select, tree_rows
from tests.e2e_server import Server, free_port, run_server

ECHO = {"ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_SELF_MODEL": "echo"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An echo-backend server whose log file the Logs tab follows."""
    with run_server(tmp_path_factory.mktemp("window"), start_timeout=START_S, **ECHO) as srv:
        srv.wait_ready()
        yield srv


def _records(start: int, n: int) -> str:
    lines = []
    for step in range(start, start + n):
        loss = 6.0 * 0.97**step + 0.05 * ((step * 7) % 5)
        record = {
            "step": step,
            "elapsed_s": step * 0.5,
            "tokens_seen": step * 4096,
            "train_loss": loss,
            "val_loss": loss + 0.2 if step % 10 == 0 else None,
            "val_bpb": (loss + 0.2) / 0.69 if step % 10 == 0 else None,
            "lr": 3e-3 * min(1, step / 10),
            "tokens_per_s": 8000 + 50 * (step % 9),
            "progress": step / 100,
            "eta_s": (100 - step) * 0.5,
        }
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def test_every_tab_against_a_real_server(
    server: Server, display: str, tmp_path: Path, screenshot: Callable[[str], Path]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = run_dir / "metrics.jsonl"
    metrics.write_text(_records(1, 30) + "{not json\n")
    with dashboard(server.url, run_dir, server.log_path) as app:
        # Server: the real /ready's circuits, coloured by state; routes from the real /metrics
        pump_until(app, lambda: len(tree_rows(app.server_tab.circuits)) == 3)
        rows = tree_rows(app.server_tab.circuits)
        assert {iid: row[1] for iid, row in rows.items()} == dict.fromkeys(
            ("self", "emotion", "creation"), "ready"
        )
        assert app.server_tab.circuits.item("self", "tags") == ("ready",)
        assert "reachable" in str(app.server_tab.status.cget("text"))
        for i in range(4):
            httpx.post(server.url + "/api/ask", json={"prompt": f"warm up {i}"}, timeout=30)
        pump_until(
            app, lambda: "/api/ask" in {r[0] for r in tree_rows(app.server_tab.routes).values()}
        )
        pump_until(app, lambda: app.server_tab.chart.point_count() >= 4, timeout=20)
        select(app, app.server_tab)
        screenshot("server")

        # Ask: the three circuits stream side by side, then the merged reply
        select(app, app.ask_tab, settle=0.2)
        app.ask_tab.prompt.insert("1.0", "바다 이야기를 해줘 · tell me about the sea")
        app.ask_tab.send_button.invoke()
        pump_until(app, lambda: app.ask_tab.text_of("merged"))
        for name in ("self", "emotion", "creation"):
            assert app.ask_tab.text_of(name), name
            assert app.ask_tab.text_of(name) in app.ask_tab.text_of("merged")
        assert "ok" in str(app.ask_tab.heads["self"].cget("text"))
        assert "done" in str(app.ask_tab.status.cget("text"))
        pump_for(app, 0.5)
        screenshot("ask")

        # Training: points from metrics.jsonl as it grows; the malformed line counted
        pump_until(app, lambda: len(app.training_tab.data.steps) == 30)
        with open(metrics, "a") as f:
            f.write(_records(31, 20))
        pump_until(app, lambda: len(app.training_tab.data.steps) == 50)
        assert app.training_tab.malformed == 1
        assert "malformed 1" in str(app.training_tab.facts.cget("text"))
        select(app, app.training_tab)
        assert app.training_tab.chart.point_count() >= 50 + 50 + 5  # raw, EMA, validation
        assert float(app.training_tab.progress.cget("value")) == pytest.approx(0.5)
        screenshot("training")

        # Logs: the server's real log file, with level filter and search
        pump_until(app, lambda: "GET /ready" in app.logs_tab.shown_text())
        select(app, app.logs_tab, settle=0.3)
        screenshot("logs")
        app.logs_tab.level.set("WARNING")
        app.logs_tab.rerender()
        assert "GET /ready" not in app.logs_tab.shown_text()
        app.logs_tab.level.set("DEBUG")
        app.logs_tab.search.set("POST /api/ask")
        shown = [line for line in app.logs_tab.shown_text().splitlines() if line]
        assert shown and all("POST /api/ask" in line for line in shown)
        assert app.logs_tab.text.tag_ranges("match")

        pollers = list(app.pollers)
        app.close()
    assert all(not p.is_alive() for p in pollers)


def test_a_dead_server_reads_unreachable_and_is_retried(display: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with dashboard(url, tmp_path / "run") as app:
        pump_until(app, lambda: app.server_tab.last_view is not None)
        first = app.server_tab.last_view
        assert first is not None and first.status == "unreachable"
        assert f"unreachable {url}" in str(app.server_tab.detail.cget("text"))
        pump_until(app, lambda: app.server_tab.last_view is not first, timeout=10)  # retried
        started = time.monotonic()
        app.root.update()
        assert time.monotonic() - started < 0.5  # the window does not wait on the network


def test_a_wrong_token_says_401_in_the_server_panel(display: str, tmp_path: Path) -> None:
    with run_server(
        tmp_path / "srv", start_timeout=START_S, ECHO_ACCESS_TOKEN="right-token-123", **ECHO
    ) as srv:
        with dashboard(srv.url, tmp_path / "run", token="wrong") as app:
            pump_until(app, lambda: app.server_tab.last_view is not None)
            text = str(app.server_tab.detail.cget("text"))
            assert "401" in text and "--token" in text and "ECHO_TOKEN" in text
            assert "right-token-123" not in text


# Stands in for `echo-brain train` only to prove that closing the window stops what it started;
# the real run and its SIGINT export are in test_window_training.py.
CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: (print("saved on SIGINT", flush=True), sys.exit(0)))
print("training", flush=True)
time.sleep(120)
"""


def test_closing_the_window_stops_the_training_child_gracefully(
    display: str, tmp_path: Path
) -> None:
    import sys

    from dashboard.training import TrainingChild

    lines: list[str] = []
    with dashboard(f"http://127.0.0.1:{free_port()}", tmp_path / "run") as app:
        app.child = TrainingChild([sys.executable, "-c", CHILD], lines.append)
        child = app.child
        pump_until(app, lambda: lines == ["training"], timeout=20)
        app.close()
    assert child.proc.returncode == 0 and lines == ["training", "saved on SIGINT"]
