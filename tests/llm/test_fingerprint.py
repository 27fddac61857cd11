from pathlib import Path

from llm.fingerprint import BLOCK, model_fingerprint


def test_fingerprint_tells_files_apart_by_size_head_and_tail(tmp_path: Path) -> None:
    body = bytearray(b"x" * (3 * BLOCK))
    base = tmp_path / "a.gguf"
    base.write_bytes(body)
    first = model_fingerprint(base)
    assert first == model_fingerprint(base) and len(first) == 64

    tail = bytearray(body)
    tail[-1] = ord("y")
    (tmp_path / "tail.gguf").write_bytes(tail)
    head = bytearray(body)
    head[0] = ord("y")
    (tmp_path / "head.gguf").write_bytes(head)
    (tmp_path / "short.gguf").write_bytes(body[:-1])
    others = {model_fingerprint(tmp_path / n) for n in ("tail.gguf", "head.gguf", "short.gguf")}
    assert first not in others and len(others) == 3


def test_fingerprint_of_a_small_file(tmp_path: Path) -> None:
    (tmp_path / "s.gguf").write_bytes(b"GGUF")
    (tmp_path / "t.gguf").write_bytes(b"GGUG")
    assert model_fingerprint(tmp_path / "s.gguf") != model_fingerprint(tmp_path / "t.gguf")
