"""Prometheus text from the server's own Metrics class: rates and quantiles over a window."""

from __future__ import annotations

import math

import pytest
from prometheus_client import generate_latest

from api.metrics import Metrics
from dashboard.prom import Window, histogram_quantile, parse_scrape
from dashboard.server_state import build_view, unauthorized, unreachable


def _scrape(metrics: Metrics, t: float) -> object:
    return parse_scrape(generate_latest(metrics.registry).decode(), t)


def _hit(metrics: Metrics, route: str, seconds: float, n: int = 1) -> None:
    for _ in range(n):
        metrics.requests.labels("POST", route, "200").inc()
        metrics.latency.labels("POST", route).observe(seconds)


def test_counter_rate_by_route_over_the_window() -> None:
    metrics, window = Metrics(lambda: None), Window(60)
    _hit(metrics, "/api/ask", 0.2, 3)
    window.add(_scrape(metrics, 100.0))  # type: ignore[arg-type]
    _hit(metrics, "/api/ask", 0.2, 20)
    metrics.requests.labels("POST", "/api/ask", "500").inc(10)  # statuses are summed
    _hit(metrics, "/ready", 0.001, 5)
    window.add(_scrape(metrics, 110.0))  # type: ignore[arg-type]
    rates = window.rate("echo_http_requests_total", "route")
    assert rates["/api/ask"] == pytest.approx(3.0)
    assert rates["/ready"] == pytest.approx(0.5)


def test_latency_quantiles_come_from_the_new_observations_only() -> None:
    metrics, window = Metrics(lambda: None), Window(60)
    _hit(metrics, "/api/ask", 9.0, 50)  # old and slow: before the window
    window.add(_scrape(metrics, 0.0))  # type: ignore[arg-type]
    _hit(metrics, "/api/ask", 0.04, 90)
    _hit(metrics, "/api/ask", 0.9, 10)
    window.add(_scrape(metrics, 5.0))  # type: ignore[arg-type]
    p50 = window.quantile(0.5, "echo_http_request_seconds", "route")["/api/ask"]
    p95 = window.quantile(0.95, "echo_http_request_seconds", "route")["/api/ask"]
    assert p50 is not None and 0.025 < p50 <= 0.05  # inside the (0.025, 0.05] bucket
    assert p95 is not None and 0.75 < p95 <= 1.0  # inside the (0.75, 1.0] bucket
    assert window.top_bound("echo_http_request_seconds") == 10.0  # past it: "at least 10 s"


def test_a_counter_reset_counts_from_zero_not_negative() -> None:
    window = Window(60)
    window.add(parse_scrape('# TYPE x counter\nx_total{circuit="self"} 500\n', 0))
    window.add(parse_scrape('# TYPE x counter\nx_total{circuit="self"} 20\n', 10))
    assert window.rate("x_total", "circuit") == {"self": 2.0}


def test_the_window_drops_scrapes_older_than_its_span() -> None:
    window = Window(30)
    for t in range(0, 100, 5):
        window.add(parse_scrape(f"# TYPE x counter\nx_total {t}\n", float(t)))
    assert window.scrapes[-1].t - window.scrapes[0].t <= 30
    assert window.rate("x_total", "") == {"": pytest.approx(1.0)}


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 0.0), (0.5, 10.0), (1.0, 20.0), (math.inf, 20.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.5)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.75)
    assert histogram_quantile(0.99, [(1.0, 1.0), (math.inf, 10.0)]) == 1.0  # in +Inf: last bound
    assert histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None


def test_view_shows_ready_fields_when_present_and_survives_when_absent() -> None:
    window = Window(60)
    text = (
        "# TYPE echo_circuit_tokens counter\n"
        'echo_circuit_tokens_total{circuit="self"} 100\n'
        "# TYPE echo_circuit_restarts counter\n"
        'echo_circuit_restarts_total{circuit="emotion"} 2\n'
        "# TYPE echo_circuit_queue_depth gauge\n"
        'echo_circuit_queue_depth{circuit="self"} 1\n'
        "# TYPE echo_memory_lines gauge\necho_memory_lines 1234\n"
    )
    window.add(parse_scrape(text, 0))
    window.add(parse_scrape(text.replace(" 100\n", " 160\n"), 6))
    ready = {
        "ready": False,
        "replay": {"state": "done", "lines": 1234},
        "circuits": {
            "self": {"state": "ready", "pid": 4242, "restarts": 0, "warmup_s": 1.5},
            "emotion": {"state": "loading", "error": None},
        },
    }
    view = build_view("http://x", ready, window, 6)
    rows = {c.name: c for c in view.circuits}
    assert view.status == "booting" and view.memory_lines == 1234
    assert rows["self"].pid == 4242 and rows["self"].warmup_s == 1.5
    assert rows["self"].tokens_per_s == pytest.approx(10.0) and rows["self"].queue == 1
    assert rows["emotion"].restarts == 2 and rows["emotion"].pid is None  # from the metric
    assert rows["emotion"].state == "loading"
    assert build_view("http://x", None, Window(), 0).circuits == []


def test_unreachable_and_unauthorized_views_say_what_to_do() -> None:
    assert "unreachable http://h:1" in unreachable("http://h:1", "ConnectError").detail
    detail = unauthorized("http://h:1").detail
    assert "401" in detail and "--token" in detail and "ECHO_TOKEN" in detail and "토큰" in detail
