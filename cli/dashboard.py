"""`echo-brain dashboard`: the desktop window (filled in by issue 12)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `dashboard` command to the app."""
