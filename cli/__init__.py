"""The `echo-brain` entry point.

`replay` runs at every boot and is timed against a naive reference, so it takes a fast path
(`cli.replay`) that imports neither typer, rich nor pydantic when it needs none of them (see
its docstring); `serve` must open its port within a second, so it takes one too
(`cli.serve`); every other command, and `--help`, goes through the typer app in `cli.app`.

Whatever a command writes is private to its user (umask 077: files 0600, folders 0700): the
memory and its index, the zip that carries it, the models and adapters learned from it.
"""

from __future__ import annotations

import os
import sys

from core.fsio import PRIVATE_UMASK  # the standard library only: costs the fast paths nothing


def main() -> None:
    """Console-script entry point."""
    os.umask(PRIVATE_UMASK)
    if sys.argv[1:2] == ["replay"]:
        from cli.replay import fast_replay

        code = fast_replay(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    if sys.argv[1:2] == ["serve"]:
        from cli.serve import fast_serve

        code = fast_serve(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from cli.app import build_app

    build_app(sys.argv)()
