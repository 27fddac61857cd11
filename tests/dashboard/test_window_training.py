"""A real `echo-brain train` started and stopped from the window; its loss curve grows."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dashboard.ui import dashboard, pump_until, select
from tests.e2e_server import free_port
from tests.origin_model.archive import make_archive


def test_start_grow_and_stop_a_real_training_run(
    display: str, tmp_path: Path, screenshot: Callable[[str], Path]
) -> None:
    make_archive(Path(os.environ["ECHO_MEMORY_DIR"]), parts=3)
    run_dir = tmp_path / "origin"
    log = tmp_path / "echo-brain.log"
    log.write_text("INFO: launcher started\n")
    with dashboard(f"http://127.0.0.1:{free_port()}", run_dir, log) as app:
        app.train_extra = ["--batch-size", "4", "--threads", "1"]  # light on a shared machine
        tab = app.training_tab
        select(app, tab, settle=0.2)
        tab.minutes_var.set("10")
        tab.size_var.set("nano")
        tab.start_button.invoke()
        assert app.child is not None and app.child.running
        assert tab.start_button.instate(["disabled"]) and not tab.stop_button.instate(["disabled"])
        child = app.child
        pump_until(app, lambda: len(tab.data.steps) >= 3, timeout=420)  # the loss curve grows
        assert tab.data.train_loss[0] is not None and tab.data.train_loss[-1] is not None
        last = tab.data.last
        assert f"step {last['step']}" in str(tab.facts.cget("text"))
        # the line's progress field, or (older train builds) elapsed_s over the 10 minutes asked
        expected = last.get("progress", last["elapsed_s"] / 600)
        assert float(tab.progress.cget("value")) == pytest.approx(expected, abs=1e-6)
        assert "ETA —" not in str(tab.facts.cget("text"))
        select(app, tab, settle=1.2)
        assert tab.chart.point_count() >= 6
        screenshot("training-real-run")

        tab.stop_button.invoke()  # SIGINT: the run checkpoints and exports, then exits
        pump_until(app, lambda: app.child is None, timeout=300)
        assert child.proc.returncode == 0
        assert "exit 0" in str(tab.state_label.cget("text"))
        assert list(run_dir.glob("*.gguf")) and (run_dir / "train.json").is_file()
        pump_until(app, lambda: "train.json" in str(tab.summary.cget("text")), timeout=10)
        train_lines = [line for line in app.logs_tab.buffer.lines if line.source == "train"]
        assert train_lines  # the child's output reached the Logs tab
        assert "[train]" in app.logs_tab.shown_text()
        select(app, app.logs_tab, settle=0.3)
        screenshot("logs-training-output")
