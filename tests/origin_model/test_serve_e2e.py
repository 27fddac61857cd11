"""The exported GGUF serves as the self circuit of a real server."""

from __future__ import annotations

from pathlib import Path

from tests.e2e_server import run_server
from tests.origin_model.archive import QUESTION
from tests.origin_model.conftest import TrainedRun

PROMPTS = (QUESTION, "안녕, 오늘 뭐 했어? What did you do today?", "오늘 기분 어때?")


def test_the_origin_model_answers_as_the_self_circuit(trained: TrainedRun, tmp_path: Path) -> None:
    line = trained.stdout.rstrip("\n").splitlines()[-1]
    model = line.removeprefix("ECHO_SELF_MODEL=")
    env = {"ECHO_MODELS_DIR": str(trained.models), "ECHO_SELF_MODEL": model,
           "ECHO_EMOTION_MODEL": "echo", "ECHO_CREATION_MODEL": "echo", "ECHO_MAX_TOKENS": "24"}
    with run_server(tmp_path, **env) as server:
        ready = server.wait_ready()
        assert ready["circuits"]["self"]["backend"] == "llama:origin-nano.gguf"  # type: ignore[index]
        replies = []
        with server.client() as client:
            for prompt in PROMPTS:  # a 30-step model samples: one of three may be all newlines
                doc = client.post("/api/ask", json={"prompt": prompt}).json()
                circuit = doc["circuits"]["self"]
                assert circuit["status"] == "ok", circuit
                replies.append(circuit["text"])
                if circuit["text"]:
                    break
    assert any(text.strip() for text in replies), replies
