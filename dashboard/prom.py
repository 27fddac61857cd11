"""Prometheus text over a sliding window: counter rates and histogram quantiles (no Tk)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scrape:
    """One scrape of /metrics: its time and every sample, keyed by sample name and labels."""

    t: float
    samples: dict[tuple[str, Labels], float]

    def value(self, name: str, **labels: str) -> float | None:
        """The one sample with exactly these labels, or None."""
        return self.samples.get((name, _key(labels)))

    def series(self, name: str) -> dict[Labels, float]:
        """Every sample of `name`, by its labels."""
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def parse_scrape(text: str, t: float) -> Scrape:
    """Parse Prometheus exposition text (with prometheus_client's parser) into a Scrape."""
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, _key(sample.labels))] = float(sample.value)
    return Scrape(t, samples)


def _key(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def label(labels: Labels, name: str) -> str:
    """The value of one label ('' when absent)."""
    return dict(labels).get(name, "")


class Window:
    """The scrapes of the last `span_s` seconds; rates and quantiles come from its two ends."""

    def __init__(self, span_s: float = 60.0) -> None:
        self.span_s = span_s
        self.scrapes: deque[Scrape] = deque()

    def add(self, scrape: Scrape) -> None:
        """Append a scrape and drop the ones older than the window (always keep two)."""
        self.scrapes.append(scrape)
        while len(self.scrapes) > 2 and scrape.t - self.scrapes[1].t >= self.span_s:
            self.scrapes.popleft()

    def clear(self) -> None:
        """Forget everything (the server went away)."""
        self.scrapes.clear()

    @property
    def latest(self) -> Scrape | None:
        """The newest scrape."""
        return self.scrapes[-1] if self.scrapes else None

    def increase(self, name: str, by: str) -> dict[str, float]:
        """Counter increase over the window, summed by one label; a reset counts from zero."""
        if len(self.scrapes) < 2:
            return {}
        first, last = self.scrapes[0].series(name), self.scrapes[-1].series(name)
        out: dict[str, float] = {}
        for labels, now in last.items():
            before = first.get(labels, 0.0)
            delta = now - before if now >= before else now
            key = label(labels, by)
            out[key] = out.get(key, 0.0) + delta
        return out

    def rate(self, name: str, by: str) -> dict[str, float]:
        """Per-second rate of a counter over the window, summed by one label."""
        if len(self.scrapes) < 2:
            return {}
        dt = self.scrapes[-1].t - self.scrapes[0].t
        if dt <= 0:
            return {}
        return {k: v / dt for k, v in self.increase(name, by).items()}

    def quantile(self, q: float, name: str, by: str) -> dict[str, float | None]:
        """Histogram quantile over the window's new observations, by one label (None: none)."""
        if len(self.scrapes) < 2:
            return {}
        first = self.scrapes[0].series(name + "_bucket")
        last = self.scrapes[-1].series(name + "_bucket")
        grouped: dict[str, dict[float, float]] = {}
        for labels, now in last.items():
            before = first.get(labels, 0.0)
            delta = now - before if now >= before else now
            bounds = grouped.setdefault(label(labels, by), {})
            le = float(label(labels, "le"))
            bounds[le] = bounds.get(le, 0.0) + delta
        return {k: histogram_quantile(q, sorted(b.items())) for k, b in grouped.items()}

    def top_bound(self, name: str) -> float | None:
        """The largest finite bucket bound of a histogram."""
        latest = self.latest
        if latest is None:
            return None
        bounds = [float(label(k, "le")) for k in latest.series(name + "_bucket")]
        finite = [b for b in bounds if not math.isinf(b)]
        return max(finite) if finite else None


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q."""
    pairs = sorted(buckets)
    if not pairs or pairs[-1][1] <= 0:
        return None
    total = pairs[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in pairs:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
