"""What the Server tab shows, computed from `/ready` and a window of `/metrics` scrapes (no Tk)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dashboard.prom import Window, label

CIRCUITS = ("self", "emotion", "creation")


@dataclass
class CircuitRow:
    """One circuit's line in the table."""

    name: str
    state: str = "unknown"
    backend: str | None = None
    pid: int | None = None
    restarts: int | None = None
    last_exit: str | None = None
    warmup_s: float | None = None
    error: str | None = None
    queue: float | None = None
    tokens_per_s: float | None = None
    cache_hits: float | None = None


@dataclass
class RouteRow:
    """One route's line: requests per second and latency quantiles over the window."""

    route: str
    rps: float
    p50: float | None
    p95: float | None
    top: float | None = None  # the largest finite bucket: a quantile there means "at least"


@dataclass
class ServerView:
    """Everything the Server tab draws for one poll."""

    url: str
    status: str  # ok, booting, unauthorized, unreachable, error
    detail: str = ""
    ready: bool = False
    replay: dict[str, Any] = field(default_factory=dict)
    recall: dict[str, Any] = field(default_factory=dict)
    circuits: list[CircuitRow] = field(default_factory=list)
    routes: list[RouteRow] = field(default_factory=list)
    memory_lines: float | None = None
    uptime_s: float | None = None
    t: float = field(default_factory=time.time)


def build_view(url: str, ready: dict[str, Any] | None, window: Window, now: float) -> ServerView:
    """Combine the readiness document and the metrics window into one view."""
    ready = ready or {}
    view = ServerView(url, "ok" if ready.get("ready") else "booting", t=now)
    view.ready = bool(ready.get("ready"))
    view.replay = dict(ready.get("replay") or {})
    view.recall = dict(ready.get("recall") or {})
    view.circuits = _circuits(ready.get("circuits") or {}, window)
    view.routes = _routes(window)
    latest = window.latest
    if latest is not None:
        view.memory_lines = latest.value("echo_memory_lines")
        started = latest.value("process_start_time_seconds")
        view.uptime_s = now - started if started else None
    return view


def _circuits(docs: dict[str, Any], window: Window) -> list[CircuitRow]:
    latest = window.latest
    depth = {
        label(k, "circuit"): v
        for k, v in (latest.series("echo_circuit_queue_depth") if latest else {}).items()
    }
    tokens = window.rate("echo_circuit_tokens_total", "circuit")
    hits = _totals(window, "echo_prompt_cache_hits_total")
    restarts = _totals(window, "echo_circuit_restarts_total")
    names = list(CIRCUITS) + sorted(set(docs) - set(CIRCUITS))
    rows = []
    for name in names:
        doc = docs.get(name)
        if doc is None and name not in depth:
            continue
        doc = doc or {}
        row = CircuitRow(name, str(doc.get("state") or _metric_state(window, name)))
        row.pid, row.last_exit, row.warmup_s = (
            doc.get("pid"),
            doc.get("last_exit"),
            doc.get("warmup_s"),
        )
        row.error, row.backend = doc.get("error"), doc.get("backend")
        row.restarts = doc.get("restarts", restarts.get(name))
        row.queue, row.cache_hits = depth.get(name), hits.get(name)
        row.tokens_per_s = tokens.get(name, 0.0 if len(window.scrapes) > 1 else None)
        rows.append(row)
    return rows


def _totals(window: Window, name: str) -> dict[str, float]:
    latest = window.latest
    if latest is None:
        return {}
    out: dict[str, float] = {}
    for labels, value in latest.series(name).items():
        key = label(labels, "circuit")
        out[key] = out.get(key, 0.0) + value
    return out


def _metric_state(window: Window, name: str) -> str:
    latest = window.latest
    if latest is None:
        return "unknown"
    for labels, value in latest.series("echo_circuit_state").items():
        if label(labels, "circuit") == name and value == 1.0:
            return label(labels, "state")
    return "unknown"


def _routes(window: Window) -> list[RouteRow]:
    rps = window.rate("echo_http_requests_total", "route")
    p50 = window.quantile(0.5, "echo_http_request_seconds", "route")
    p95 = window.quantile(0.95, "echo_http_request_seconds", "route")
    top = window.top_bound("echo_http_request_seconds")
    rows = [RouteRow(r, rps[r], p50.get(r), p95.get(r), top) for r in rps]
    return sorted(rows, key=lambda row: (-row.rps, row.route))


def unreachable(url: str, reason: str) -> ServerView:
    """The view when the server does not answer."""
    return ServerView(url, "unreachable", f"unreachable {url} ({reason})")


def unauthorized(url: str) -> ServerView:
    """The view for 401: the token is missing or wrong, and where to set it."""
    detail = (
        "401: token missing or wrong; set --token or ECHO_TOKEN · "
        "401: 토큰이 없거나 틀립니다. --token 또는 ECHO_TOKEN으로 설정하세요"
    )
    return ServerView(url, "unauthorized", detail)
