"""Time series for the charts: EMA smoothing and a bounded history (no Tk)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence


def ema(values: Sequence[float | None], smoothing: float) -> list[float | None]:
    """Debiased exponential moving average (TensorBoard's slider): 0 = raw, 0.99 = very smooth.

    None and non-finite values are passed through as None and do not disturb the average.
    """
    if not 0 <= smoothing < 1:
        raise ValueError("smoothing must be in [0, 1)")
    out: list[float | None] = []
    last, weight = 0.0, 0.0
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(None)
            continue
        last = smoothing * last + (1 - smoothing) * value
        weight = smoothing * weight + (1 - smoothing)
        out.append(last / weight)
    return out


class Trend:
    """Named series of (time, value) over the last `span_s` seconds."""

    def __init__(self, span_s: float = 600.0) -> None:
        self.span_s = span_s
        self.points: dict[str, deque[tuple[float, float]]] = {}

    def add(self, t: float, values: dict[str, float | None]) -> None:
        """Record one value per series at time t (None: no point) and drop old points."""
        for name, value in values.items():
            if value is None:
                continue
            self.points.setdefault(name, deque()).append((t, value))
        for series in self.points.values():
            while series and t - series[0][0] > self.span_s:
                series.popleft()

    def series(self, name: str) -> tuple[list[float], list[float]]:
        """Times and values of one series."""
        pts = self.points.get(name, ())
        return [p[0] for p in pts], [p[1] for p in pts]
