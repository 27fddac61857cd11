"""A real writer process for the multi-process and kill -9 tests.

    writer.py NAME COUNT [--key]   save COUNT turns, print "ACK NAME i path" after each
    writer.py replay               run the replay once, print the insight's line count
"""

from __future__ import annotations

import sys


def turn(name: str, i: int) -> tuple[str, str]:
    """A recognisable multi-line turn; every line ends with 'end' so a torn line shows."""
    filler = "가나다" * (i % 40)
    prompt = f"prompt {name} {i} {filler} end\n  둘째 줄 {name} {i} end"
    reply = f"reply {name} {i} end\n\nreply tail {name} {i} {filler} end"
    return prompt, reply


def main() -> int:
    """Entry point."""
    from core.settings import load_settings

    settings = load_settings()
    if sys.argv[1] == "replay":
        from core.boot_memory_loop import replay_archive

        insight = replay_archive(settings.memory_dir, settings.manifest_dir)
        sys.stdout.write(f"LINES {insight['lines']}\n")
        return 0
    from core.memory_core import MemoryStore

    name, count = sys.argv[1], int(sys.argv[2])
    use_key = "--key" in sys.argv
    store = MemoryStore(settings)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    for i in range(count):
        prompt, reply = turn(name, i)
        result = store.save_turn(prompt, reply, idempotency_key=f"{name}-{i}" if use_key else None)
        if not result.saved:
            sys.stderr.write(f"FAILED {i} {result.error}\n")
            return 1
        sys.stdout.write(f"ACK {name} {i} {result.path} {int(result.duplicate)}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
