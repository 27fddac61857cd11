"""What every command shares: the consoles, a bilingual error report, settings or exit 2.

No typer here: the `replay` fast path imports this module only to report an error or
to read the configured folders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from core.settings import Settings

console = Console()
err_console = Console(stderr=True)


def report(message: str, message_ko: str) -> None:
    """Print a problem on stderr, English in red, then Korean."""
    err_console.print(f"[red]{message}[/red]\n{message_ko}", highlight=False)


def settings_or_exit() -> Settings:
    """Load the settings or exit 2 with the message that names the bad variable."""
    from core.errors import ConfigError
    from core.settings import load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        report(exc.message, exc.message_ko)
        raise SystemExit(2) from None
