"""The `echo-brain` entry point.

`replay` runs at every boot and is timed against a naive reference, so it takes a fast path
that imports neither typer, rich nor pydantic; every other command goes through the typer app
in `core.commands`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["replay"]:
        from core.memory_commands import fast_replay

        code = fast_replay(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from core.commands import build_app

    build_app(sys.argv)()

