"""Training tab · 학습: loss curves with EMA, tokens/s, lr, progress and ETA; start/stop/open."""

from __future__ import annotations

import json
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import Any

from dashboard.charts import Chart
from dashboard.series import ema
from dashboard.training import KINDS, SIZES, RunData, format_eta, progress_and_eta


class TrainingTab(ttk.Frame):
    """Follows one run folder; drives one `echo-brain train` child."""

    def __init__(
        self,
        parent: ttk.Notebook,
        run_dir: Path,
        on_start: Callable[[float, str], None],
        on_stop: Callable[[], None],
        on_open: Callable[[], None],
    ) -> None:
        super().__init__(parent, padding=8)
        self.run_dir = run_dir
        self.data = RunData()
        self.malformed = 0
        self.planned_s: float | None = None
        self._controls(on_start, on_stop, on_open)
        self._facts()
        self.chart = Chart(self, ncols=2, height=3.6, min_interval=1.0)
        self.chart.widget.pack(fill=tk.BOTH, expand=True, pady=(6, 0))
        self._axes()
        self.summary = ttk.Label(self, text="", wraplength=1200)
        self.summary.pack(fill=tk.X)
        self._plot()

    def _controls(
        self,
        on_start: Callable[[float, str], None],
        on_stop: Callable[[], None],
        on_open: Callable[[], None],
    ) -> None:
        path = str(self.run_dir)
        path = path if len(path) <= 90 else "…" + path[-89:]
        ttk.Label(self, text=f"실행 폴더 · run: {path}", style="Title.TLabel").pack(anchor="w")
        row = ttk.Frame(self)
        row.pack(fill=tk.X, pady=(6, 0))
        self.state_label = ttk.Label(row, text="대기 · idle")
        self.minutes_var = tk.StringVar(value="5")
        self.size_var = tk.StringVar(value=SIZES[0])
        ttk.Label(row, text="분 · minutes").pack(side=tk.LEFT)
        ttk.Spinbox(row, from_=1, to=600, textvariable=self.minutes_var, width=5).pack(side=tk.LEFT)
        ttk.Label(row, text="  크기 · size").pack(side=tk.LEFT)
        ttk.Combobox(row, values=KINDS, textvariable=self.size_var, width=7, state="readonly").pack(
            side=tk.LEFT
        )
        self.start_button = ttk.Button(
            row, text="학습 시작 · Start", command=lambda: self._start(on_start)
        )
        self.start_button.pack(side=tk.LEFT, padx=(12, 4))
        self.stop_button = ttk.Button(row, text="멈추고 저장 · Stop (save)", command=on_stop)
        self.stop_button.pack(side=tk.LEFT, padx=4)
        self.stop_button.state(["disabled"])
        ttk.Button(row, text="폴더 열기 · Open folder", command=on_open).pack(side=tk.LEFT, padx=4)
        self.state_label.pack(side=tk.LEFT, padx=12)

    def _start(self, on_start: Callable[[float, str], None]) -> None:
        try:
            minutes = float(self.minutes_var.get())
        except ValueError:
            minutes = 0
        if minutes <= 0:
            self.state_label.configure(
                text="분은 양수여야 합니다 · minutes must be a positive number"
            )
            return
        self.planned_s = minutes * 60  # progress and ETA when the lines do not carry them
        on_start(minutes, self.size_var.get())

    def _facts(self) -> None:
        row = ttk.Frame(self)
        row.pack(fill=tk.X, pady=6)
        self.progress = ttk.Progressbar(row, length=240, maximum=1.0)
        self.progress.pack(side=tk.LEFT)
        self.facts = ttk.Label(row, text="")
        self.facts.pack(side=tk.LEFT, padx=10)
        smooth = ttk.Frame(self)
        smooth.pack(fill=tk.X)
        self.smoothing = tk.DoubleVar(value=0.6)
        self.smooth_text = ttk.Label(smooth, text="EMA 0.60")
        self.smooth_text.pack(side=tk.RIGHT)
        ttk.Scale(
            smooth,
            from_=0.0,
            to=0.99,
            variable=self.smoothing,
            length=220,
            command=lambda _v: self._on_smoothing(),
        ).pack(side=tk.RIGHT, padx=4)
        ttk.Label(smooth, text="부드럽게 · smoothing").pack(side=tk.RIGHT)

    def _on_smoothing(self) -> None:
        self.smooth_text.configure(text=f"EMA {self.smoothing.get():.2f}")
        self._plot()

    def add(self, update: dict[str, Any]) -> None:
        """New records from the follower (reset: the file was replaced, start over)."""
        if update.get("reset"):
            self.data = RunData()
        self.data.add(update.get("records") or [])
        self.malformed = int(update.get("malformed") or 0)
        self._show_facts()
        if self.chart.due() and self.chart.visible():
            self._plot()

    def refresh(self) -> None:
        """Redraw the charts now (the tab just became visible)."""
        self._plot()

    def _show_facts(self) -> None:
        last = self.data.last
        progress, eta = progress_and_eta(last, self.planned_s)
        if progress is not None:
            self.progress.configure(value=max(0.0, min(1.0, progress)))
        pct = f"{progress * 100:.0f}%" if progress is not None else "—"
        parts = [
            f"단계 · step {last.get('step', '—')}",
            f"진행 · {pct}",
            f"남은 시간 · ETA {format_eta(eta)}",
            f"토큰/초 · tok/s {_num(last.get('tokens_per_s'), ',.0f')}",
            f"학습률 · lr {_num(last.get('lr'), '.2e')}",
            f"val bpb {_num(last.get('val_bpb'), '.3f')}",
            f"잘못된 줄 · malformed {self.malformed}",
        ]
        self.facts.configure(text="   ".join(parts))

    def show_summary(self, doc: dict[str, Any]) -> None:
        """train.json (or a tuning run's tune.json), the run's summary."""
        text = json.dumps(doc, ensure_ascii=False)
        name = "tune.json" if "adapter" in doc else "train.json"
        self.summary.configure(text=f"요약 · {name}: {text[:400]}")

    def set_running(self, running: bool, note: str = "") -> None:
        """Enable the buttons that fit whether a child runs."""
        self.start_button.state(["disabled" if running else "!disabled"])
        self.stop_button.state(["!disabled" if running else "disabled"])
        self.state_label.configure(
            text=note or ("학습 중 · training" if running else "대기 · idle")
        )

    def _axes(self) -> None:
        loss, speed = self.chart.axes
        self.lr_axis = speed.twinx()
        loss.set_title("손실 · loss")
        speed.set_title("토큰/초 · tokens/s  ·  학습률 · lr")
        for ax in (loss, speed):
            ax.set_xlabel("단계 · step")
            ax.grid(alpha=0.3)

    def _plot(self) -> None:
        loss, speed = self.chart.axes
        d, chart = self.data, self.chart
        smoothing = min(0.99, max(0.0, float(self.smoothing.get())))
        raw = chart.series(
            loss,
            "raw",
            d.steps,
            _nan(d.train_loss),
            color="#9ecbff",
            linewidth=0.8,
            label="train (raw · 원본)",
        )
        smooth = chart.series(
            loss, "ema", d.steps, _nan(ema(d.train_loss, smoothing)), color="#1a73e8", linewidth=1.8
        )
        smooth.set_label(f"train EMA {smoothing:.2f}")
        chart.series(
            loss,
            "val",
            d.val_steps,
            d.val_loss,
            marker="o",
            color="#d93025",
            markersize=3,
            label="val · 검증",
        )
        chart.series(
            speed, "tokens/s", d.steps, _nan(d.tokens_per_s), color="#12a4af", label="tokens/s"
        )
        chart.series(
            self.lr_axis, "lr", d.steps, _nan(d.lr), color="#e37400", linewidth=1.0, label="lr"
        )
        chart.rescale(speed)
        chart.rescale(loss, self.lr_axis, legend_loc="upper right")
        loss.legend(handles=[raw, smooth, chart.lines["val"]], loc="upper right", fontsize=8)
        chart.draw()


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def _num(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else "—"
