"""Server tab · 서버: reachability, circuits in colour, routes, memory, uptime, live charts."""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk
from typing import Any

from dashboard.charts import Chart
from dashboard.series import Trend
from dashboard.server_state import ServerView
from dashboard.style import CIRCUIT_COLOURS, STATE_COLOURS, state_style
from dashboard.training import format_eta

CIRCUIT_COLUMNS = (
    ("circuit", "회로 · circuit", 85),
    ("state", "상태 · state", 80),
    ("backend", "모델 · backend", 250),
    ("pid", "PID", 65),
    ("restarts", "재시작 · restarts", 110),
    ("last_exit", "마지막 종료 · last exit", 150),
    ("warmup", "준비 · warm-up", 120),
    ("queue", "대기열 · queue", 100),
    ("tps", "토큰/초 · tokens/s", 125),
    ("hits", "캐시 적중 · cache hits", 145),
)
ROUTE_COLUMNS = (
    ("route", "경로 · route", 260),
    ("rps", "요청/초 · req/s", 110),
    ("p50", "p50 (ms)", 90),
    ("p95", "p95 (ms)", 90),
)
STATUS_TEXT = {
    "ok": "연결됨 · reachable, ready",
    "booting": "연결됨, 준비 중 · reachable, not ready yet",
    "unreachable": "연결 안 됨 · unreachable",
    "unauthorized": "인증 실패 · 401 unauthorized",
    "error": "오류 · error",
}


def recall_fact(recall: dict[str, Any]) -> str:
    """The recall indexing's progress: lines with vectors of all, speed, time left."""
    if not recall:
        return "회상 색인 · recall index: —"
    text = (f"회상 색인 · recall index: {recall.get('state', '—')} "
            f"{_fmt(recall.get('done'), ',.0f')}/{_fmt(recall.get('total'), ',.0f')}")
    if recall.get("lines_per_s"):
        text += f" · {_fmt(recall['lines_per_s'], '.1f')} lines/s"
    if recall.get("eta_s") is not None:
        text += f" · ETA {format_eta(recall['eta_s'])}"
    return text


def _fmt(value: float | int | str | None, spec: str = "") -> str:
    if value is None or value == "":
        return "—"
    return format(value, spec) if spec and not isinstance(value, str) else str(value)


def _ms(seconds: float | None, top: float | None = None) -> str:
    if seconds is None:
        return "—"
    at_least = "≥ " if top is not None and seconds >= top else ""  # past the largest bucket
    return f"{at_least}{seconds * 1000:.0f}"


class ServerTab(ttk.Frame):
    """The live view of one server."""

    def __init__(self, parent: ttk.Notebook, url: str) -> None:
        super().__init__(parent, padding=8)
        self.trend = Trend(600.0)
        self.last_view: ServerView | None = None
        self._header(url)
        self.circuits = self._table(CIRCUIT_COLUMNS, 4)
        for state, colour in STATE_COLOURS.items():
            self.circuits.tag_configure(state, foreground=colour)
        self.errors = ttk.Label(self, text="", style=state_style("failed"), wraplength=1200)
        self.errors.pack(fill=tk.X)
        self.routes = self._table(ROUTE_COLUMNS, 5)
        self.chart = Chart(self, ncols=2, height=2.8, min_interval=2.0)
        self.chart.widget.pack(fill=tk.BOTH, expand=True, pady=(6, 0))
        self._label_axes()

    def _header(self, url: str) -> None:
        top = ttk.Frame(self)
        top.pack(fill=tk.X)
        ttk.Label(top, text=url, style="Title.TLabel").pack(side=tk.LEFT)
        self.status = ttk.Label(top, text="연결 중 · connecting", style=state_style("unknown"))
        self.status.pack(side=tk.LEFT, padx=12)
        self.detail = ttk.Label(self, text="", wraplength=1200)
        self.detail.pack(fill=tk.X, pady=(2, 0))
        self.facts = ttk.Label(self, text="", style="Big.TLabel")
        self.facts.pack(fill=tk.X, pady=4)

    def _table(self, columns: tuple[tuple[str, str, int], ...], height: int) -> ttk.Treeview:
        tree = ttk.Treeview(self, columns=[c[0] for c in columns], show="headings", height=height)
        for key, title, width in columns:
            tree.heading(key, text=title)
            tree.column(key, width=width, stretch=key in ("backend", "route"))
        tree.pack(fill=tk.X, pady=4)
        return tree

    def _label_axes(self) -> None:
        tokens, latency = self.chart.axes
        tokens.set_title("토큰/초 · tokens/s per circuit")
        latency.set_title("p95 지연 · p95 latency per route (ms)")
        for ax in (tokens, latency):
            ax.set_xlabel("분 전 · minutes ago")
            ax.grid(alpha=0.3)

    def show(self, view: ServerView) -> None:
        """Draw one poll's view."""
        self.last_view = view
        self.status.configure(
            text=STATUS_TEXT.get(view.status, view.status), style=state_style(view.status)
        )
        self.detail.configure(text=view.detail)
        self.facts.configure(text=self._facts(view))
        self._fill_circuits(view)
        self._fill_routes(view)
        if view.status in ("ok", "booting"):
            values: dict[str, float | None] = {c.name: c.tokens_per_s for c in view.circuits}
            values.update({"p95 " + r.route: r.p95 for r in view.routes[:6]})
            self.trend.add(view.t, values)
        if self.chart.due() and self.chart.visible():
            self._plot(time.time())
        errors = [f"{c.name}: {c.error}" for c in view.circuits if c.error]
        self.errors.configure(text="오류 · errors — " + " | ".join(errors) if errors else "")

    def refresh(self) -> None:
        """Redraw the charts now (the tab just became visible)."""
        self._plot(time.time())

    def _facts(self, view: ServerView) -> str:
        replay = view.replay
        parts = [
            f"준비 · ready: {'예 · yes' if view.ready else '아니오 · no'}",
            f"재생 · replay: {replay.get('state', '—')} ({_fmt(replay.get('lines'))} lines)",
            f"기억 · memory lines: {_fmt(view.memory_lines, ',.0f')}",
            recall_fact(view.recall),
            f"가동 시간 · uptime: {format_eta(view.uptime_s)}",
        ]
        return "   |   ".join(parts)

    def _fill_circuits(self, view: ServerView) -> None:
        self.circuits.delete(*self.circuits.get_children())
        for c in view.circuits:
            warm = None if c.warmup_s is None else f"{c.warmup_s:.1f} s"
            row = (
                c.name,
                c.state,
                _fmt(c.backend),
                _fmt(c.pid),
                _fmt(c.restarts),
                _fmt(c.last_exit),
                _fmt(warm),
                _fmt(c.queue, ".0f"),
                _fmt(c.tokens_per_s, ".1f"),
                _fmt(c.cache_hits, ".0f"),
            )
            self.circuits.insert("", tk.END, iid=c.name, values=row, tags=(c.state,))

    def _fill_routes(self, view: ServerView) -> None:
        self.routes.delete(*self.routes.get_children())
        for r in view.routes:
            p50, p95 = _ms(r.p50, r.top), _ms(r.p95, r.top)
            self.routes.insert("", tk.END, values=(r.route, f"{r.rps:.2f}", p50, p95))

    def _plot(self, now: float) -> None:
        tokens, latency = self.chart.axes
        for name, series in self.trend.points.items():
            xs = [(t - now) / 60 for t, _ in series]
            if name.startswith("p95 "):
                ys = [v * 1000 for _, v in series]
                self.chart.series(latency, name, xs, ys, label=name[4:], linewidth=1.4)
            else:
                ys = [v for _, v in series]
                colour = CIRCUIT_COLOURS.get(name)
                self.chart.series(tokens, name, xs, ys, label=name, color=colour, linewidth=1.6)
        oldest = min((s[0][0] for s in self.trend.points.values() if s), default=now)
        left = max(-10.0, min(-1.0, (oldest - now) / 60))  # the last 1..10 minutes
        self.chart.rescale(tokens, latency)
        for ax in (tokens, latency):
            ax.set_xlim(left, 0)
        self.chart.draw()
