"""Drive the real Tk window in-process: pump its event loop until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dashboard.app import Dashboard, open_root


def pump_until(app: Dashboard, condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Run Tk's event loop (after() callbacks included) until `condition()` is truthy."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s: {condition}")
        app.root.update()
        time.sleep(0.02)


def pump_for(app: Dashboard, seconds: float) -> None:
    """Run Tk's event loop for a while."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.root.update()
        time.sleep(0.02)


@contextmanager
def dashboard(
    url: str, run_dir: Path, log_file: Path | None = None, token: str | None = None
) -> Iterator[Dashboard]:
    """An open, started dashboard window; closed (as the user closes it) afterwards."""
    app = Dashboard(open_root(), url, token, run_dir, log_file)
    app.start()
    try:
        yield app
    finally:
        if not app.closed:
            app.root.protocol("WM_DELETE_WINDOW")  # the close handler exists
            app.close()


def select(app: Dashboard, tab: object, settle: float = 1.5) -> None:
    """Show one tab and let it draw (charts redraw at most every 1-1.5 s)."""
    app.notebook.select(tab)  # type: ignore[call-overload]
    pump_for(app, settle)


def tree_rows(tree: object) -> dict[str, tuple[str, ...]]:
    """A Treeview's rows by item id."""
    return {iid: tuple(tree.item(iid, "values")) for iid in tree.get_children()}  # type: ignore[attr-defined]
