"""A real X server (Xvfb) for the window tests, and where their screenshots go."""

from __future__ import annotations

import gc
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Screenshots of each tab, kept after the run (DASHBOARD_ARTIFACTS overrides the folder).
ARTIFACTS = Path(
    os.environ.get("DASHBOARD_ARTIFACTS") or REPO / "tests" / "artifacts" / "dashboard"
)


@pytest.fixture(autouse=True)
def tk_garbage_on_the_main_thread() -> Iterator[None]:
    """Collect each test's Tk objects here, on the main thread.

    Widgets and their variables sit in reference cycles; left to the garbage collector,
    they may be freed on whichever thread triggers it next (a poller of a later window),
    and tkinter raises "main thread is not in main loop" from their `__del__`.
    """
    gc.collect()
    yield
    gc.collect()


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """Start `Xvfb :N` at 1280x800 for the session; its DISPLAY string."""
    binary = shutil.which("Xvfb")
    assert binary, "Xvfb is missing: run scripts/setup.sh --dev (Debian's xvfb)"
    # -displayfd: Xvfb takes the first free display itself and writes its number once it
    # accepts connections (no race between two test processes picking the same one)
    read, write = os.pipe()
    proc = subprocess.Popen(
        [binary, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write,),
    )
    os.close(write)
    data = b""
    deadline = time.monotonic() + 20
    while not data.endswith(b"\n"):
        assert time.monotonic() < deadline, "Xvfb did not start"
        ready, _, _ = select.select([read], [], [], 0.5)
        if ready:
            chunk = os.read(read, 64)
            assert chunk, f"Xvfb exited with {proc.poll()}"
            data += chunk
    os.close(read)
    n = int(data)
    try:
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def display(xvfb: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DISPLAY set to the session's Xvfb."""
    monkeypatch.setenv("DISPLAY", xvfb)
    return xvfb


@pytest.fixture
def screenshot(xvfb: str) -> Callable[[str], Path]:
    """Save the whole X screen as ARTIFACTS/<name>.png; returns the path."""
    from PIL import ImageGrab

    def grab(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        image = ImageGrab.grab(xdisplay=xvfb)
        image.save(path)
        assert image.size == (1280, 800)
        assert len(image.getcolors(1 << 16) or range(1 << 16)) > 20  # not a blank screen
        return path

    return grab


# The machine these tests run on may be busy (2 cores, several jobs): give servers time to start.
START_S = 120.0
