"""The prefix cache for real: the demo GGUF in worker processes, states on disk between starts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from llm.backend import Generation
from llm.config import LlamaConfig
from llm.prefix_cache import SUFFIX
from llm.process_backend import ProcessBackend
from tests.llm.test_worker_process import DEMO, config

PREFIX = "You are a calm lighthouse keeper. 당신은 차분한 등대지기입니다. " * 4
OTHER_PREFIX = "You are a cheerful gardener. 당신은 쾌활한 정원사입니다. " * 4


def start(cache: Path, prefix: str = PREFIX, model: Path = DEMO) -> ProcessBackend:
    cfg: LlamaConfig = config(prefixes=[prefix], cache_dir=str(cache))
    cfg.model_path = str(model)
    backend = ProcessBackend(cfg)
    backend.load()
    return backend


def source_of(cache: Path, prefix: str = PREFIX, model: Path = DEMO,
              prompt: str | None = None) -> tuple[str, str]:
    """Start a worker, note how it warmed its prefix (and answer `prompt`), stop it."""
    backend = start(cache, prefix, model)
    try:
        assert backend.prefix is not None
        answer = ""
        if prompt is not None:
            gen = Generation([{"role": "system", "content": prefix + " Remember the sea."},
                              {"role": "user", "content": prompt}],
                             max_tokens=16, temperature=0.0)
            answer = "".join(backend.stream(gen))
            assert gen.usage["cached_tokens"] > 20  # the prefix was reused, not re-evaluated
        return str(backend.prefix["source"]), answer
    finally:
        backend.close()


def files(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"*{SUFFIX}"))


def test_a_second_start_restores_and_answers_exactly_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "prefix"
    computed, first = source_of(cache, prompt="Describe the sea at night.")
    assert computed == "computed" and len(files(cache)) == 1
    restored, second = source_of(cache, prompt="Describe the sea at night.")
    assert restored == "restored"
    assert second == first and second.strip()  # greedy: the restored prefix is the same state


def test_a_corrupt_file_is_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = tmp_path / "prefix"
    assert source_of(cache)[0] == "computed"
    (path,) = files(cache)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 3] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert source_of(cache)[0] == "computed"
    assert source_of(cache)[0] == "restored"  # rewritten whole
    path.write_bytes(bytes(blob[: len(blob) // 2]))  # truncated
    assert source_of(cache)[0] == "computed"


def test_another_prefix_or_model_never_uses_this_state(tmp_path: Path) -> None:
    cache = tmp_path / "prefix"
    assert source_of(cache)[0] == "computed"
    (mine,) = files(cache)
    assert source_of(cache, OTHER_PREFIX)[0] == "computed"  # a changed declaration: a new key
    (theirs,) = set(files(cache)) - {mine}
    shutil.copyfile(mine, theirs)  # this prefix's state under the other prefix's name
    assert source_of(cache, OTHER_PREFIX)[0] == "computed"
    assert source_of(cache, OTHER_PREFIX)[0] == "restored"
    other_model = tmp_path / "other.gguf"
    shutil.copyfile(DEMO, other_model)  # the same bytes, another file: another fingerprint
    os.utime(other_model, ns=(1, 1))
    assert source_of(cache, model=other_model)[0] == "computed"
    assert len(files(cache)) == 3


def test_an_unwritable_cache_folder_costs_only_the_restore(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    backend = start(blocker / "prefix")
    try:
        assert backend.prefix is not None
        assert backend.prefix["source"] == "computed" and backend.prefix["cache_error"]
    finally:
        backend.close()


def test_a_worker_killed_while_idle_comes_back_at_once_restoring_its_prefix(
    tmp_path: Path,
) -> None:
    import signal
    import time

    from llm.circuit import Circuit

    cache = tmp_path / "prefix"
    circuit = Circuit("self", PREFIX, lambda: start_unloaded(cache))
    circuit.load()
    try:
        first = circuit.snapshot()
        assert first["state"] == "ready" and first["prefix"]["source"] == "computed"
        os.kill(first["pid"], signal.SIGKILL)  # no request in flight: the circuit must notice
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            doc = circuit.snapshot()
            if doc["state"] == "ready" and doc["pid"] not in (None, first["pid"]):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"not restarted: {circuit.snapshot()}")
        assert doc["restarts"] == 1 and doc["last_exit"] == "SIGKILL"
        assert doc["prefix"]["source"] == "restored"
    finally:
        circuit.close()


def start_unloaded(cache: Path) -> ProcessBackend:
    return ProcessBackend(config(prefixes=[PREFIX], cache_dir=str(cache)))
