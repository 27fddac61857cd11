"""matplotlib figures embedded in Tk (FigureCanvasTkAgg); lines kept and updated in place."""

from __future__ import annotations

import time
from collections.abc import Sequence
from tkinter import ttk
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


class Chart:
    """A figure with `ncols` axes in a ttk frame; redrawn at most every `min_interval` s."""

    def __init__(
        self, parent: ttk.Frame, ncols: int = 1, height: float = 3.0, min_interval: float = 1.0
    ) -> None:
        # a fixed layout: constrained layout re-solves on every draw, which costs CPU
        self.figure = Figure(figsize=(6.0 * ncols, height), dpi=100)
        self.figure.subplots_adjust(left=0.05, right=0.95, bottom=0.14, top=0.93, wspace=0.22)
        self.axes: list[Axes] = [self.figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        self.canvas = FigureCanvasTkAgg(self.figure, master=parent)
        self.widget = self.canvas.get_tk_widget()
        self.min_interval = min_interval
        self.lines: dict[str, Line2D] = {}
        self._new_lines: set[int] = set()
        self._drawn_at = 0.0
        self.draws = 0

    def series(
        self, ax: Axes, key: str, xs: Sequence[float], ys: Sequence[float], **style: Any
    ) -> Line2D:
        """Set one line's data (created with `style` the first time)."""
        line = self.lines.get(key)
        if line is None:
            (line,) = ax.plot(xs, ys, **style)
            self.lines[key] = line
            self._new_lines.add(id(ax))
        else:
            line.set_data(xs, ys)
        return line

    def rescale(self, *axes: Axes, legend_loc: str = "upper left") -> None:
        """Fit the axes to their data; a legend where lines were added."""
        for ax in axes:
            ax.relim()
            ax.autoscale_view()
            if id(ax) in self._new_lines and ax.get_lines():
                ax.legend(loc=legend_loc, fontsize=8)  # type: ignore[call-overload]  # loc: str
        self._new_lines -= {id(ax) for ax in axes}

    def due(self) -> bool:
        """Whether enough time passed since the last draw."""
        return time.monotonic() - self._drawn_at >= self.min_interval

    def visible(self) -> bool:
        """Whether the chart is on screen (hidden tabs are not redrawn: it costs CPU)."""
        return bool(self.widget.winfo_viewable())

    def draw(self) -> None:
        """Redraw (when Tk is idle)."""
        self._drawn_at = time.monotonic()
        self.draws += 1
        self.canvas.draw_idle()

    def point_count(self) -> int:
        """How many data points the chart's lines hold (for tests and the status line)."""
        return sum(len(line.get_xdata()) for line in self.lines.values())  # type: ignore[arg-type,misc]
