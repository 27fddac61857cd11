"""The window: four tabs, pollers off the Tk thread, results pumped from a queue with `after()`."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import tkinter as tk
from pathlib import Path
from tkinter import ttk

from dashboard.ask_stream import AskStream
from dashboard.logs import classify
from dashboard.pollers import FilePoller, Message, Poller, ServerPoller
from dashboard.style import apply_style
from dashboard.tab_ask import AskTab
from dashboard.tab_logs import LogsTab
from dashboard.tab_server import ServerTab
from dashboard.tab_training import TrainingTab
from dashboard.training import TrainingChild, train_command

PUMP_MS = 100


class DisplayUnavailable(Exception):
    """No display to open a window on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.message = f"No display to open the dashboard window on ({reason})."
        self.message_ko = f"대시보드 창을 열 디스플레이가 없습니다 ({reason})."


def open_root() -> tk.Tk:
    """The Tk root window, or DisplayUnavailable (no DISPLAY on X11, or Tk cannot connect)."""
    x11 = sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))
    if x11 and not os.environ.get("DISPLAY"):
        raise DisplayUnavailable("DISPLAY is not set")
    try:
        return tk.Tk(className="echo-brain")
    except tk.TclError as exc:
        raise DisplayUnavailable(str(exc)) from None


class Dashboard:
    """The window and everything it started."""

    def __init__(
        self, root: tk.Tk, url: str, token: str | None, run_dir: Path, log_file: Path | None
    ) -> None:
        self.root, self.url, self.token, self.run_dir = root, url, token, run_dir
        self.queue: queue.Queue[Message] = queue.Queue()
        self.child: TrainingChild | None = None
        self.ask_thread: AskStream | None = None
        self.closed = False
        self.interrupted = False
        self.train_extra: list[str] = []  # more `echo-brain train` options (tests: a light run)
        root.title("Echo Brain — 대시보드 · dashboard")
        root.geometry("1280x800")
        root.minsize(960, 640)
        self.fonts = apply_style(root)
        self.notebook = ttk.Notebook(root)
        self.notebook.pack(fill=tk.BOTH, expand=True)
        self.server_tab = ServerTab(self.notebook, url)
        self.ask_tab = AskTab(self.notebook, self._ask)
        self.training_tab = TrainingTab(
            self.notebook, run_dir, self._start_training, self._stop_training, self._open_folder
        )
        note = f"파일 · file: {log_file or '— (--log)'}  +  학습 출력 · training output"
        self.logs_tab = LogsTab(self.notebook, note)
        for tab, title in (
            (self.server_tab, "서버 · Server"),
            (self.ask_tab, "질문 · Ask"),
            (self.training_tab, "학습 · Training"),
            (self.logs_tab, "로그 · Logs"),
        ):
            self.notebook.add(tab, text=title)
        self.notebook.enable_traversal()  # Ctrl+Tab between tabs
        self.notebook.bind("<<NotebookTabChanged>>", self._on_tab)
        self.pollers: list[Poller] = [
            ServerPoller(url, token, self.queue),
            FilePoller(run_dir, log_file, self.queue),
        ]
        root.protocol("WM_DELETE_WINDOW", self.close)

    def _on_tab(self, _event: object) -> None:
        selected = self.notebook.select()
        if selected == str(self.ask_tab):
            self.ask_tab.prompt.focus_set()
        elif selected == str(self.server_tab):
            self.server_tab.refresh()
        elif selected == str(self.training_tab):
            self.training_tab.refresh()

    def start(self) -> None:
        """Start the pollers and the queue pump."""
        for poller in self.pollers:
            poller.start()
        self.root.after(PUMP_MS, self._pump)

    def _pump(self) -> None:
        if self.closed:
            return
        if self.interrupted:  # Ctrl+C or SIGTERM: close as the window's close button does
            self.close()
            return
        for _ in range(500):
            try:
                kind, payload = self.queue.get_nowait()
            except queue.Empty:
                break
            self._dispatch(kind, payload)
        if self.child is not None and not self.child.running:
            code = self.child.proc.returncode
            self.training_tab.set_running(False, f"끝남 · finished (exit {code})")
            self.child = None
        self.root.after(PUMP_MS, self._pump)

    def _dispatch(self, kind: str, payload: object) -> None:
        if kind == "server":
            self.server_tab.show(payload)  # type: ignore[arg-type]
        elif kind == "ask":
            self.ask_tab.handle(payload)  # type: ignore[arg-type]
        elif kind == "ask_end":
            self.ask_tab.finished()
        elif kind == "run":
            self.training_tab.add(payload)  # type: ignore[arg-type]
        elif kind == "summary":
            self.training_tab.show_summary(payload)  # type: ignore[arg-type]
        elif kind == "log":
            self.logs_tab.add(payload)  # type: ignore[arg-type]
        elif kind == "train_line":
            level = self.logs_tab.buffer.last_level("train")
            self.logs_tab.add(classify("train", [str(payload)], level))

    def _ask(self, prompt: str) -> None:
        self.ask_thread = AskStream(self.url, self.token, prompt, self.queue)
        self.ask_thread.start()

    def _start_training(self, minutes: float, size: str) -> None:
        if self.child is not None and self.child.running:
            return
        try:
            cmd = train_command(self.run_dir, minutes, size, self.train_extra)
        except ValueError as exc:
            self.training_tab.set_running(False, str(exc))
            return
        self.child = TrainingChild(cmd, lambda line: self.queue.put(("train_line", line)))
        self.training_tab.set_running(True, f"학습 중 · training (pid {self.child.proc.pid})")

    def _stop_training(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.training_tab.set_running(
                True, "저장하고 멈추는 중 · stopping: checkpoint and export…"
            )

    def _open_folder(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        opener = {"darwin": ["open"], "win32": ["explorer"]}.get(sys.platform, ["xdg-open"])
        try:
            proc = subprocess.Popen(
                [*opener, str(self.run_dir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            self.training_tab.state_label.configure(
                text=f"폴더 · folder: {self.run_dir.resolve()} (열 프로그램 없음 · no opener)"
            )
            return
        threading.Thread(target=proc.wait, daemon=True).start()  # reaped off the Tk thread

    def close(self) -> None:
        """Stop the pollers, the stream and the training child (gracefully), then the window."""
        if self.closed:
            return
        self.closed = True
        self.root.withdraw()
        for poller in self.pollers:
            poller.stop()
        if self.ask_thread is not None:
            self.ask_thread.cancelled.set()
        if self.child is not None:
            self.child.close()
        self.root.destroy()


def run(url: str, token: str | None, run_dir: Path, log_file: Path | None) -> None:
    """Open the window and run until it is closed (DisplayUnavailable when it cannot open)."""
    root = open_root()
    app = Dashboard(root, url, token, run_dir, log_file)

    def interrupt(_signum: int, _frame: object) -> None:
        app.interrupted = True  # acted on by the next pump, on the Tk thread

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    app.start()
    try:
        root.mainloop()
    finally:
        app.close()
