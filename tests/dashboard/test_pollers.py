"""The pollers and the ask stream against a real `echo-brain serve` (echo backends)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard.ask_stream import AskEvent, AskStream
from dashboard.pollers import FilePoller, Message, ServerPoller
from tests.dashboard.conftest import START_S
from tests.e2e_server import Server, free_port, run_server

ECHO = {"ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_SELF_MODEL": "echo"}
SECRET = "dashboard-access-secret-7f3a"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One echo-backend server, shared by this module: the dashboard is the origin's (his
    token reads /metrics), a guest token closes the door to everyone else."""
    with run_server(
        tmp_path_factory.mktemp("dash"), start_timeout=START_S, ECHO_ORIGIN_TOKEN=SECRET,
        ECHO_ACCESS_TOKEN="dashboard-guest-secret-2b9c", **ECHO
    ) as srv:
        srv.wait_ready()
        yield srv


def _ask(url: str, token: str | None, prompt: str) -> list[AskEvent]:
    out: queue.Queue[Message] = queue.Queue()
    stream = AskStream(url, token, prompt, out)
    stream.start()
    stream.join(60)
    events = []
    while (item := out.get_nowait())[0] != "ask_end":
        events.append(item[1])
    return events


def test_poller_sees_every_circuit_ready_and_the_ask_route_rate(server: Server) -> None:
    poller = ServerPoller(server.url, SECRET, queue.Queue())
    first = poller.fetch()
    assert first.status == "ok" and first.ready
    assert {c.name: c.state for c in first.circuits} == dict.fromkeys(
        ("self", "emotion", "creation"), "ready"
    )
    for _ in range(3):
        httpx.post(
            server.url + "/api/ask",
            json={"prompt": "hello there"},
            headers={"Authorization": f"Bearer {SECRET}"},
            timeout=30,
        ).raise_for_status()
    view = poller.fetch()
    routes = {r.route: r for r in view.routes}
    assert routes["/api/ask"].rps > 0 and routes["/api/ask"].p50 is not None
    assert all(c.tokens_per_s is not None and c.tokens_per_s > 0 for c in view.circuits)
    assert view.replay["state"] == "done"
    poller.stop()


def test_a_wrong_token_says_401_and_where_to_set_it(server: Server) -> None:
    poller = ServerPoller(server.url, "wrong-token", queue.Queue())
    view = poller.fetch()
    poller.stop()
    assert view.status == "unauthorized"
    assert "401" in view.detail and "--token" in view.detail and "ECHO_TOKEN" in view.detail
    assert SECRET not in view.detail and "wrong-token" not in view.detail


def test_a_server_that_is_down_is_unreachable_with_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    poller = ServerPoller(url, None, queue.Queue())
    view = poller.fetch()
    poller.stop()
    assert view.status == "unreachable" and f"unreachable {url}" in view.detail


def test_the_poller_thread_keeps_posting_while_the_server_is_down() -> None:
    out: queue.Queue[Message] = queue.Queue()
    poller = ServerPoller(f"http://127.0.0.1:{free_port()}", None, out, interval=0.1)
    poller.start()
    views = [out.get(timeout=10)[1] for _ in range(3)]
    poller.stop()
    assert [v.status for v in views] == ["unreachable"] * 3


def test_ask_streams_deltas_from_the_three_circuits_then_the_document(server: Server) -> None:
    events = _ask(server.url, SECRET, "Tell me about the sea")
    deltas = [e for e in events if e.kind == "delta"]
    assert {e.circuit for e in deltas} == {"self", "emotion", "creation"}
    done = events[-1]
    assert done.kind == "done" and done.doc["kind"] == "echo"
    for name in ("self", "emotion", "creation"):
        streamed = "".join(e.text for e in deltas if e.circuit == name)
        assert streamed == done.doc["circuits"][name]["text"]


def test_ask_with_a_wrong_token_says_401_and_where_to_set_it(server: Server) -> None:
    events = _ask(server.url, "nope", "hello")
    assert len(events) == 1 and events[0].kind == "error"
    assert events[0].text.startswith("401") and "ECHO_TOKEN" in events[0].text
    assert "nope" not in events[0].text


def test_ask_to_a_server_that_is_down_says_unreachable() -> None:
    events = _ask(f"http://127.0.0.1:{free_port()}", None, "hello")
    assert events[0].kind == "error" and "unreachable" in events[0].text


def test_file_poller_posts_records_malformed_counts_and_log_lines(tmp_path: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "echo-brain.log"
    run.mkdir()
    log.write_text("old line\n")
    out: queue.Queue[Message] = queue.Queue()
    poller = FilePoller(run, log, out)
    (run / "metrics.jsonl").write_text('{"step": 1, "train_loss": 3.0}\n{broken\n')
    (run / "train.json").write_text('{"params": 1500000}')
    with open(log, "a") as f:
        f.write("ERROR: circuit failed\n")
    poller.poll()
    got = dict(out.get_nowait() for _ in range(out.qsize()))
    assert got["run"]["records"] == [{"step": 1, "train_loss": 3.0}]
    assert got["run"]["malformed"] == 1
    assert got["summary"] == {"params": 1500000}
    assert [(line.level, line.text) for line in got["log"]] == [
        ("INFO", "old line"),
        ("ERROR", "ERROR: circuit failed"),
    ]
