"""The edges of issue 22 on a real app (echo circuits): /metrics needs a token, /ready shows
others states only, the Host allowlist, and /docs + /redoc that load nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import load_settings

ORIGIN, GUEST, METRICS = "edge-origin-token", "edge-guest-token", "edge-metrics-token"
ECHO = {"emotion_model": "echo", "creation_model": "echo", "self_model": "echo"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bilingual(response: Any, status: int, code: str) -> dict[str, str]:
    """The JSON error body, checked for status, code and both languages."""
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert re.search("[가-힣]", error["message_ko"]), error
    return error


@pytest.fixture
def app(tmp_path: Path) -> Iterator[TestClient]:
    """Origin, a guest gate, a metrics token, and a circuit whose error names a file path."""
    settings = load_settings(**{**ECHO, "emotion_model": "missing-model.gguf"},
                             origin_token=ORIGIN, guest_tokens=f"mina:{GUEST}",
                             metrics_token=METRICS, models_dir=tmp_path / "models")
    with TestClient(create_app(settings)) as client:
        yield client


def test_metrics_needs_the_origin_or_the_metrics_token(app: TestClient) -> None:
    anonymous = app.get("/metrics")
    error = bilingual(anonymous, 401, "unauthorized")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "ECHO_METRICS_TOKEN" in error["message"]
    bilingual(app.get("/metrics", headers=bearer("wrong")), 401, "unauthorized")
    error = bilingual(app.get("/metrics", headers=bearer(GUEST)), 403, "forbidden")
    assert "ECHO_METRICS_TOKEN" in error["message"] and "ECHO_METRICS_TOKEN" in error["message_ko"]
    for token in (METRICS, ORIGIN):
        scraped = app.get("/metrics", headers=bearer(token))
        assert scraped.status_code == 200 and "echo_http_requests_total" in scraped.text


def test_the_metrics_token_opens_nothing_else(app: TestClient) -> None:
    metrics = bearer(METRICS)
    bilingual(app.post("/api/ask", json={"prompt": "hi"}, headers=metrics), 401, "unauthorized")
    bilingual(app.get("/v1/models", headers=metrics), 401, "unauthorized")
    bilingual(app.get("/api/insight", headers=metrics), 401, "unauthorized")
    assert "backend" not in app.get("/ready", headers=metrics).json()["circuits"]["self"]


def test_metrics_stay_open_while_no_token_is_configured() -> None:
    with TestClient(create_app(load_settings(**ECHO))) as client:
        assert client.get("/metrics").status_code == 200
    with TestClient(create_app(load_settings(**ECHO, metrics_token=METRICS))) as client:
        bilingual(client.get("/metrics"), 401, "unauthorized")  # a metrics token alone locks it
        assert client.get("/metrics", headers=bearer(METRICS)).status_code == 200


def test_ready_shows_others_states_only_and_the_origin_everything(
    app: TestClient, tmp_path: Path
) -> None:
    full = app.get("/ready", headers=bearer(ORIGIN)).json()
    assert "missing-model.gguf" in full["circuits"]["emotion"]["error"]  # the control
    assert str(tmp_path) in full["circuits"]["emotion"]["error"]
    assert full["circuits"]["self"]["backend"]
    for headers in ({}, bearer(GUEST), bearer(METRICS), bearer("wrong")):
        response = app.get("/ready", headers=headers)
        assert response.status_code == 503  # the emotion circuit failed: same status for all
        text, doc = response.text, response.json()
        assert str(tmp_path) not in text and "missing-model" not in text and ".gguf" not in text
        assert "/" not in text.replace(" / ", ""), text  # no path of any kind
        assert doc["circuits"]["emotion"]["state"] == "failed"
        assert "실패" in doc["circuits"]["emotion"]["error"]
        assert doc["circuits"]["self"] == {"state": "ready", "restarts": 0, "warmup_s": None,
                                           "load_s": doc["circuits"]["self"]["load_s"],
                                           "error": None}
        assert set(doc) == {"ready", "replay", "circuits", "recall"}
        assert doc["replay"]["state"] in ("pending", "running", "done")


def test_a_host_the_server_does_not_answer_to_gets_a_bilingual_421() -> None:
    settings = load_settings(**ECHO, host="127.0.0.1")
    with TestClient(create_app(settings), base_url="http://localhost:8000") as client:
        assert client.post("/api/ask", json={"prompt": "hi"}).status_code == 200
        rebound = {"Host": "attacker.example:8000"}
        for method, path in (("POST", "/api/ask"), ("GET", "/ready"), ("GET", "/docs"),
                             ("GET", "/metrics"), ("GET", "/v1/models"), ("GET", "/ui")):
            response = client.request(method, path, headers=rebound, json={"prompt": "hi"})
            error = bilingual(response, 421, "bad_host")
            assert "attacker.example" in error["message"]
            assert "ECHO_ALLOWED_HOSTS" in error["message"] and "ECHO_ALLOWED_HOSTS" in error[
                "message_ko"]
        # liveness stays open to any Host (probes call it by an address we cannot know)
        assert client.get("/health", headers=rebound).json() == {"status": "ok"}
        assert client.head("/", headers=rebound).status_code == 200
        for host in ("127.0.0.1:8000", "[::1]:8000", "localhost"):
            assert client.get("/ready", headers={"Host": host}).status_code in (200, 503)


def test_a_listed_host_is_answered_and_a_public_bind_answers_any() -> None:
    listed = load_settings(**ECHO, host="127.0.0.1", allowed_hosts="echo.example.com")
    with TestClient(create_app(listed), base_url="http://echo.example.com") as client:
        assert client.get("/v1/models").status_code == 200
        bilingual(client.get("/v1/models", headers={"Host": "other.example"}), 421, "bad_host")
    with TestClient(create_app(load_settings(**ECHO, host="0.0.0.0"))) as client:
        assert client.get("/v1/models", headers={"Host": "any.example"}).status_code == 200


URL = re.compile(r"""(?:src|href|spec-url)="([^"]*)"|url: '([^']*)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_this_server(page: str) -> None:
    with TestClient(create_app(load_settings(**ECHO))) as client:
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        assert "//" not in html, html  # no absolute or scheme-relative URL anywhere
        urls = [a or b for a, b in URL.findall(html)]
        assert "/openapi.json" in urls and len(urls) >= 3, html
        for url in urls:
            assert url.startswith("/"), f"{page} references {url}"
            if url.endswith((".js", ".css", ".png")):
                asset = client.get(url)
                assert asset.status_code == 200 and len(asset.content) > 1000, url
                assert b"cdn.redoc.ly" not in asset.content, url  # ReDoc's logo is ours
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        assert "http" not in csp
