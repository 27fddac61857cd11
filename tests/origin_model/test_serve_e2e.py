"""The exported GGUF serves as the self circuit of a real server, for the origin only."""

from __future__ import annotations

from pathlib import Path

from llm.backend import TRAINED_ON_MEMORY_KEY
from llm.gguf_reader import HeaderReader
from tests.e2e_server import run_server
from tests.origin_model.archive import QUESTION
from tests.origin_model.conftest import TrainedRun

PROMPTS = (QUESTION, "안녕, 오늘 뭐 했어? What did you do today?", "오늘 기분 어때?")
ORIGIN, ANA = "origin-secret-1", "ana-secret-2"


def test_the_origin_model_answers_the_origin_as_the_self_circuit_and_no_guest(
    trained: TrainedRun, tmp_path: Path
) -> None:
    line = trained.stdout.rstrip("\n").splitlines()[-1]
    model = line.removeprefix("ECHO_SELF_MODEL=")
    flag = HeaderReader(trained.models / model, "r").get_field(TRAINED_ON_MEMORY_KEY)
    assert flag is not None and flag.contents() is True  # the export says what it learned from
    env = {"ECHO_MODELS_DIR": str(trained.models), "ECHO_SELF_MODEL": model,
           "ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_MAX_TOKENS": "24",
           "ECHO_ORIGIN_TOKEN": ORIGIN, "ECHO_GUEST_TOKENS": f"ana:{ANA}"}
    with run_server(tmp_path, **env) as server:
        ready = server.wait_ready()
        circuit = ready["circuits"]["self"]  # type: ignore[index]
        assert circuit["backend"] == "llama:origin-nano.gguf" and circuit["origin_only"] is True
        replies = []
        with server.client(headers={"Authorization": f"Bearer {ORIGIN}"}) as client:
            for prompt in PROMPTS:  # a 30-step model samples: one of three may be all newlines
                doc = client.post("/api/ask", json={"prompt": prompt}).json()
                circuit = doc["circuits"]["self"]
                assert circuit["status"] == "ok", circuit
                replies.append(circuit["text"])
                if circuit["text"]:
                    break
        with server.client(headers={"Authorization": f"Bearer {ANA}"}) as client:
            doc = client.post("/api/ask", json={"prompt": QUESTION}).json()
    assert any(text.strip() for text in replies), replies
    guest = doc["circuits"]["self"]
    assert guest["status"] == "unavailable" and guest["text"] == "", guest
    assert "origin only" in guest["error"] and "오리진에게만" in guest["error"]
    assert doc["circuits"]["emotion"]["status"] == "ok" and doc["reply"]
