"""Log levels, filter and search; EMA smoothing; run columns; the ETA text."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.logs import LogBuffer, classify, level_of
from dashboard.series import Trend, ema
from dashboard.training import RunData, format_eta, progress_and_eta, train_command

SERVER_LOG = [
    "INFO:     Started server process [4242]",
    "2026-11-21 17:00:01,123 WARNING llm.circuit: emotion is slow",
    "2026-11-21 17:00:02,000 ERROR api.app: circuit self failed",
    "Traceback (most recent call last):",
    '  File "llm/worker.py", line 10, in run',
    "RuntimeError: boom",
    "2026-11-21 17:00:03,000 DEBUG core.memory: appended 2 lines",
    "plain line without a level",
]


def test_levels_from_uvicorn_logging_and_tracebacks() -> None:
    levels = [line.level for line in classify("server", SERVER_LOG)]
    assert levels == ["INFO", "WARNING", "ERROR", "ERROR", "ERROR", "ERROR", "DEBUG", "INFO"]
    assert level_of("[W] WARN: disk") == "WARNING"
    assert level_of("    continuation", previous="ERROR") == "ERROR"


def test_filter_by_minimum_level_and_search() -> None:
    buffer = LogBuffer(limit=100)
    buffer.extend(classify("server", SERVER_LOG))
    warnings_up = buffer.visible("WARNING")
    assert len(warnings_up) == 5 and all(line.level in ("WARNING", "ERROR") for line in warnings_up)
    assert [line.text for line in buffer.visible("DEBUG", "EMOTION")] == [SERVER_LOG[1]]
    assert [line.text for line in buffer.visible("ERROR", "boom")] == ["RuntimeError: boom"]


def test_the_buffer_keeps_only_its_limit() -> None:
    buffer = LogBuffer(limit=3)
    buffer.extend(classify("train", [f"step {i}" for i in range(10)]))
    assert [line.text for line in buffer.lines] == ["step 7", "step 8", "step 9"]
    assert buffer.last_level("train") == "INFO" and buffer.last_level("server") == "INFO"


def test_ema_zero_is_raw_and_a_constant_stays_constant() -> None:
    values = [4.0, 3.0, None, 2.0, float("nan"), 1.0]
    assert ema(values, 0.0) == [4.0, 3.0, None, 2.0, None, 1.0]
    assert ema([5.0] * 5, 0.9) == pytest.approx([5.0] * 5)  # debiased: no drift up from zero


def test_ema_smooths_toward_the_past() -> None:
    smooth = ema([10.0, 0.0], 0.5)
    assert smooth[1] == pytest.approx((0.5 * 5.0 + 0.0) / 0.75)  # 3.33: between 0 and 10
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_trend_keeps_the_last_minutes() -> None:
    trend = Trend(span_s=60)
    for t in range(0, 200, 10):
        trend.add(float(t), {"self": float(t), "none": None})
    xs, ys = trend.series("self")
    assert xs[0] >= 130 and ys[-1] == 190.0 and trend.series("none") == ([], [])


def test_run_data_columns_with_validation_only_on_some_steps() -> None:
    data = RunData()
    taken = data.add(
        [
            {"step": 10, "train_loss": 5.0, "val_loss": None, "lr": 1e-3, "tokens_per_s": 900},
            {"step": 20, "train_loss": 4.0, "val_loss": 4.2, "lr": 9e-4, "tokens_per_s": 950},
            {"no": "step"},
            {"step": "30"},
        ]
    )
    assert taken == 2 and data.steps == [10, 20] and data.val_steps == [20]
    assert data.train_loss == [5.0, 4.0] and data.last["step"] == 20


def test_progress_and_eta_from_the_line_or_from_the_planned_minutes() -> None:
    assert progress_and_eta({"progress": 0.25, "eta_s": 30, "elapsed_s": 10}, 600) == (0.25, 30)
    assert progress_and_eta({"elapsed_s": 150.0}, 600.0) == (0.25, 450.0)
    assert progress_and_eta({"elapsed_s": 900.0}, 600.0) == (1.0, 0.0)
    assert progress_and_eta({"elapsed_s": 150.0}, None) == (None, None)


def test_eta_text_and_the_train_command() -> None:
    etas = [format_eta(s) for s in (None, -1, 12, 245, 3720)]
    assert etas == ["—", "—", "12s", "4m 05s", "1h 02m"]
    cmd = train_command(Path("models/origin"), 2.5, "small", ["--steps", "5"])
    assert cmd[1:] == [
        "-m",
        "cli",
        "train",
        "--out",
        "models/origin",
        "--minutes",
        "2.5",
        "--size",
        "small",
        "--steps",
        "5",
    ]
    with pytest.raises(ValueError):
        train_command(Path("x"), 1, "huge")
