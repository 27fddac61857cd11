"""End to end: the origin's rights, the identity reflex and project creation on a real server."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e_server import Server, run_server

ORIGIN = "e2e-origin-Tok3n-7f3a9c"
ACCESS = "e2e-access-Tok3n-41bd02"
CREATE = "create project: hello cli"
CREATE_KO = "인사하는 프로그램 만들어줘"
IDENTITY = "너는 누구야? who are you?"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_no_token_written(cwd: Path, server: Server, *tokens: str) -> None:
    """No token in anything the server wrote (memory, backup, origin) nor in its log."""
    written = [p for d in ("memory", "memory_backup", "origin") for p in files_under(cwd / d)]
    assert written, "the server should have written something"
    for path in [*written, server.log_path]:
        data = path.read_bytes()
        for token in tokens:
            assert token.encode() not in data, f"token found in {path}"


@pytest.fixture(scope="module")
def origin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server with an origin token and no access gate (the usual laptop setup)."""
    cwd = tmp_path_factory.mktemp("origin-e2e")
    with run_server(cwd, ECHO_ORIGIN_TOKEN=ORIGIN) as srv:
        yield srv, cwd


def test_identity_is_answered_at_once_while_models_load(
    origin_server: tuple[Server, Path],
) -> None:
    server, _ = origin_server
    started = time.monotonic()
    response = httpx.post(server.url + "/api/ask", json={"prompt": IDENTITY}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["kind"] == "identity"
    assert "에코브레인" in doc["reply"] and "Echo Brain" in doc["reply"]
    assert elapsed < 5 and doc["ms"] < 2000


def test_identity_needs_no_model_at_all(tmp_path: Path) -> None:
    with run_server(
        tmp_path,
        ECHO_EMOTION_MODEL="missing.gguf",
        ECHO_CREATION_MODEL="missing.gguf",
        ECHO_SELF_MODEL="missing.gguf",
    ) as server:
        response = httpx.post(server.url + "/api/ask", json={"prompt": "Who are you?"})
        assert response.status_code == 200, response.text
        assert response.json()["kind"] == "identity"
        assert "self" in response.json()["reply"]
        other = httpx.post(server.url + "/api/ask", json={"prompt": "Tell me about the sea."})
        assert other.status_code == 503 and "Retry-After" in other.headers


@pytest.mark.parametrize("headers", [{}, bearer("wrong-token"), {"Authorization": ORIGIN}])
@pytest.mark.parametrize("prompt", [CREATE, CREATE_KO])
def test_creation_is_refused_to_anyone_but_the_origin(
    origin_server: tuple[Server, Path], headers: dict[str, str], prompt: str
) -> None:
    server, cwd = origin_server
    response = httpx.post(server.url + "/api/ask", json={"prompt": prompt}, headers=headers)
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden" and error["message"] and error["message_ko"]
    assert not files_under(cwd / "origin")
    for path in files_under(cwd / "memory"):
        assert prompt.encode() not in path.read_bytes(), f"refused prompt saved in {path}"


def test_origin_creates_a_project_then_gets_409(origin_server: tuple[Server, Path]) -> None:
    server, cwd = origin_server
    server.wait_ready()
    response = httpx.post(server.url + "/api/ask", json={"prompt": CREATE_KO},
                          headers=bearer(ORIGIN), timeout=300)
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["kind"] == "create"
    project = doc["project"]
    assert set(project) == {"name", "path", "files"}
    assert project["name"] == "인사하는-프로그램"
    assert project["path"] == f"origin/projects/{project['name']}"
    folder = cwd / project["path"]
    on_disk = sorted(p.relative_to(folder).as_posix() for p in files_under(folder))
    assert project["files"] == on_disk
    assert {"README.md", "structure.json"} <= set(on_disk)
    assert "만들었습니다" in doc["reply"] and "created" in doc["reply"]
    assert not [p for p in (cwd / "origin" / "projects").iterdir() if p.name.startswith(".")]

    again = httpx.post(server.url + "/api/ask", json={"prompt": CREATE_KO},
                       headers=bearer(ORIGIN), timeout=300)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "conflict"
    assert sorted(p.relative_to(folder).as_posix() for p in files_under(folder)) == on_disk
    assert_no_token_written(cwd, server, ORIGIN)


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server behind ECHO_ACCESS_TOKEN, with an origin token too."""
    cwd = tmp_path_factory.mktemp("gated-e2e")
    with run_server(cwd, ECHO_ORIGIN_TOKEN=ORIGIN, ECHO_ACCESS_TOKEN=ACCESS) as srv:
        srv.wait_ready()
        yield srv, cwd


@pytest.mark.parametrize("headers", [{}, bearer("wrong-token"), {"Authorization": ACCESS},
                                     {"Authorization": f"Basic {ACCESS}"}])
def test_access_gate_refuses_missing_or_wrong_tokens(
    gated_server: tuple[Server, Path], headers: dict[str, str]
) -> None:
    server, _ = gated_server
    response = httpx.post(server.url + "/api/ask", json={"prompt": "hello"}, headers=headers)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized" and error["message_ko"]
    assert ACCESS not in response.text and ORIGIN not in response.text


def test_access_gate_keeps_probes_open(gated_server: tuple[Server, Path]) -> None:
    server, _ = gated_server
    assert httpx.head(server.url + "/").status_code == 200
    assert httpx.get(server.url + "/").status_code == 200
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/ready")
    assert ready.status_code == 200
    assert ACCESS not in ready.text and ORIGIN not in ready.text


@pytest.mark.parametrize("token", [ACCESS, ORIGIN])
def test_access_and_origin_tokens_pass_the_gate(
    gated_server: tuple[Server, Path], token: str
) -> None:
    server, _ = gated_server
    response = httpx.post(server.url + "/api/ask", json={"prompt": "Say hello to the sea."},
                          headers=bearer(token), timeout=300)
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "echo"


def test_access_token_cannot_create(gated_server: tuple[Server, Path]) -> None:
    server, cwd = gated_server
    response = httpx.post(server.url + "/api/ask", json={"prompt": CREATE},
                          headers=bearer(ACCESS))
    assert response.status_code == 403, response.text
    assert not files_under(cwd / "origin")


def test_gated_server_never_writes_a_token(gated_server: tuple[Server, Path]) -> None:
    server, cwd = gated_server
    response = httpx.post(server.url + "/api/ask", json={"prompt": "create project: gate demo"},
                          headers=bearer(ORIGIN), timeout=300)
    assert response.status_code == 201, response.text
    assert os.path.isdir(cwd / response.json()["project"]["path"])
    assert_no_token_written(cwd, server, ORIGIN, ACCESS)
