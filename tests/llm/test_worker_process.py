"""Circuit worker processes, for real: the demo GGUF in a child process, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from llm.backend import Generation, WorkerDied
from llm.circuit import Circuit
from llm.config import LlamaConfig
from llm.process_backend import ProcessBackend, exit_reason
from tests.fakes import alive

MODELS = Path(os.environ.get("ECHO_MODELS_DIR", Path(__file__).resolve().parents[2] / "models"))
DEMO = MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"
PERSONA = "You are a calm assistant. 당신은 차분한 도우미입니다."


def config(**kwargs: object) -> LlamaConfig:
    if not DEMO.is_file():
        pytest.fail(f"demo model missing at {DEMO}: run scripts/setup.sh")
    return LlamaConfig(str(DEMO), n_ctx=1024, n_threads=1, n_threads_batch=1, **kwargs)  # type: ignore[arg-type]


def gen(text: str, max_tokens: int = 16) -> Generation:
    return Generation(
        [{"role": "system", "content": PERSONA}, {"role": "user", "content": text}],
        max_tokens=max_tokens,
        temperature=0.0,
    )


def crashing_python(tmp_path: Path) -> str:
    """An interpreter stand-in that dies of SIGSEGV at once, like a native fault at load."""
    script = tmp_path / "segv-python"
    script.write_text("#!/bin/sh\nkill -SEGV $$\n")
    script.chmod(0o755)
    return str(script)




def test_exit_reasons_name_the_signal() -> None:
    assert exit_reason(-signal.SIGSEGV) == "SIGSEGV"
    assert exit_reason(-signal.SIGKILL) == "SIGKILL"
    assert exit_reason(3) == "exit code 3"


def test_the_model_answers_from_its_own_process_with_token_counts() -> None:
    backend = ProcessBackend(config(prefixes=[PERSONA]))
    backend.load()
    try:
        assert backend.pid is not None and backend.pid != os.getpid() and alive(backend.pid)
        assert backend.warmup_s is not None and backend.warmup_s > 0
        first = gen("Say hello.")
        text = "".join(backend.stream(first))
        assert text.strip()
        assert first.usage["prompt_tokens"] > 10 and first.usage["completion_tokens"] > 0
        assert first.usage["cached_tokens"] > 5  # the warm persona prefix was reused
        assert backend.count_tokens("hello world") in (2, 3)
    finally:
        pid = backend.pid
        backend.close()
    assert pid is not None and not alive(pid)


def test_a_killed_worker_raises_worker_died_with_the_signal() -> None:
    backend = ProcessBackend(config())
    backend.load()
    assert backend.pid is not None
    stream = backend.stream(gen("Count from one to one hundred.", max_tokens=200))
    next(stream)
    os.kill(backend.pid, signal.SIGKILL)
    with pytest.raises(WorkerDied) as info:
        for _ in stream:
            pass
    assert info.value.reason == "SIGKILL"
    assert "회로 프로세스가 종료되어" in str(info.value)
    backend.close()


def test_a_circuit_restarts_its_dead_worker(tmp_path: Path) -> None:
    circuit = Circuit("self", PERSONA, lambda: ProcessBackend(config()), backoff_s=0.1)
    circuit.load()
    first_pid = circuit.snapshot()["pid"]

    async def ask(text: str, on_delta: object = None) -> tuple[str, str | None]:
        result = await circuit.open(gen(text, 200)).result(on_delta)  # type: ignore[arg-type]
        return result.status, result.error

    async def kill_on_first_token(name: str, text: str) -> None:
        os.kill(first_pid, signal.SIGKILL)

    try:
        status, error = asyncio.run(ask("Tell me a long story.", kill_on_first_token))
        assert status == "error" and error is not None and "SIGKILL" in error
        deadline = time.monotonic() + 30
        while circuit.state != "ready" and time.monotonic() < deadline:
            time.sleep(0.1)
        doc = circuit.snapshot()
        assert doc["state"] == "ready" and doc["restarts"] == 1 and doc["last_exit"] == "SIGKILL"
        assert doc["pid"] != first_pid and not alive(first_pid)
        assert asyncio.run(ask("Say hi."))[0] == "ok"
    finally:
        circuit.close()


def test_a_worker_that_crashes_on_every_load_ends_failed_after_five_tries(
    tmp_path: Path,
) -> None:
    python = crashing_python(tmp_path)
    starts: list[float] = []

    def factory() -> ProcessBackend:
        starts.append(time.monotonic())
        return ProcessBackend(config(), python=python)

    circuit = Circuit("self", PERSONA, factory, backoff_s=0.05)
    circuit.load()
    doc = circuit.snapshot()
    assert doc["state"] == "failed" and len(starts) == 5
    assert "5 times in a row" in doc["error"] and "SIGSEGV" in doc["error"]
    assert doc["restarts"] == 4 and doc["last_exit"] == "SIGSEGV"
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[-1] > gaps[0]  # backoff grows
    circuit.close()


def test_two_prefixes_keep_their_own_state() -> None:
    """The synthesis alternates two system prompts: neither is evaluated again."""
    other = PERSONA + "\n\nWrite the final answer from the drafts. 초안으로 최종 답을 쓰세요."
    backend = ProcessBackend(config(prefixes=[PERSONA, other]))
    backend.load()
    try:
        for system in (PERSONA, other, PERSONA, other):
            request = Generation(
                [{"role": "system", "content": system}, {"role": "user", "content": "Hi."}],
                max_tokens=4,
                temperature=0.0,
            )
            assert "".join(backend.stream(request))
            prefix = backend.count_tokens(system) or 0
            assert request.usage["cached_tokens"] >= prefix - 2, (system, request.usage)
    finally:
        backend.close()


def test_a_worker_whose_server_is_already_gone_exits_before_loading() -> None:
    """The server passes its pid: a worker started by a server that died at once (it was
    re-parented before it ran) exits instead of waiting for a model that never comes."""
    import socket
    import subprocess
    import sys

    ours, theirs = socket.socketpair()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm.worker", str(theirs.fileno()), str(gone.pid)],
        pass_fds=(theirs.fileno(),), cwd=root, stdin=subprocess.DEVNULL,
    )
    theirs.close()
    try:
        assert proc.wait(timeout=20) == 0  # ours stays open: only the parent watch ends it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ours.close()
