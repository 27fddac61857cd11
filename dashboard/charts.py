"""matplotlib figures embedded in Tk (FigureCanvasTkAgg), redrawn at most every `min_interval` s."""

from __future__ import annotations

import time
from tkinter import ttk

from matplotlib.axes import Axes
from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
from matplotlib.figure import Figure


class Chart:
    """A figure with `ncols` axes in a ttk frame."""

    def __init__(
        self, parent: ttk.Frame, ncols: int = 1, height: float = 3.0, min_interval: float = 1.0
    ) -> None:
        self.figure = Figure(figsize=(6.0 * ncols, height), dpi=100, layout="constrained")
        self.axes: list[Axes] = [self.figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        self.canvas = FigureCanvasTkAgg(self.figure, master=parent)
        self.widget = self.canvas.get_tk_widget()
        self.min_interval = min_interval
        self._drawn_at = 0.0
        self.draws = 0

    def due(self) -> bool:
        """Whether enough time passed since the last draw."""
        return time.monotonic() - self._drawn_at >= self.min_interval

    def visible(self) -> bool:
        """Whether the chart is on screen (hidden tabs are not redrawn: it costs CPU)."""
        return bool(self.widget.winfo_viewable())

    def draw(self) -> None:
        """Redraw now (when idle)."""
        self._drawn_at = time.monotonic()
        self.draws += 1
        self.canvas.draw_idle()

    def point_count(self) -> int:
        """How many data points the lines of all axes hold (for tests and the status line)."""
        lines = [line for ax in self.axes for line in ax.get_lines()]
        return sum(len(line.get_xdata()) for line in lines)  # type: ignore[arg-type,misc]
