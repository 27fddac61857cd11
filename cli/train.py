"""`echo-brain train`: the origin's own model (filled in by issue 11)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `train` command to the app."""
