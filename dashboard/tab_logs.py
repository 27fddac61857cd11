"""Logs tab · 로그: the server's log file and the training child's output; level, pause, search."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from dashboard.logs import LEVELS, LogBuffer, LogLine, passes

LEVEL_COLOURS = {
    "DEBUG": "#80868b",
    "WARNING": "#e37400",
    "ERROR": "#d93025",
    "CRITICAL": "#a50e0e",
}
SHOWN_LIMIT = 2000


class LogsTab(ttk.Frame):
    """A following text pane with a level filter, a pause switch and a search box."""

    def __init__(self, parent: ttk.Notebook, source_note: str) -> None:
        super().__init__(parent, padding=8)
        self.buffer = LogBuffer()
        self.level = tk.StringVar(value="DEBUG")
        self.search = tk.StringVar(value="")
        self.paused = tk.BooleanVar(value=False)
        self._controls(source_note)
        frame = ttk.Frame(self)
        frame.pack(fill=tk.BOTH, expand=True, pady=(6, 0))
        self.text = tk.Text(frame, wrap=tk.NONE, font="TkFixedFont", relief=tk.SOLID, borderwidth=1)
        scroll = ttk.Scrollbar(frame, command=self.text.yview)
        self.text.configure(yscrollcommand=scroll.set)
        scroll.pack(side=tk.RIGHT, fill=tk.Y)
        self.text.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        for level, colour in LEVEL_COLOURS.items():
            self.text.tag_configure(level, foreground=colour)
        self.text.tag_configure("train", background="#f1f8ff")
        self.text.tag_configure("match", background="#fde293")
        self.text.configure(state=tk.DISABLED)

    def _controls(self, source_note: str) -> None:
        row = ttk.Frame(self)
        row.pack(fill=tk.X)
        ttk.Label(row, text="수준 · level").pack(side=tk.LEFT)
        level = ttk.Combobox(
            row, values=LEVELS, textvariable=self.level, width=10, state="readonly"
        )
        level.pack(side=tk.LEFT, padx=4)
        level.bind("<<ComboboxSelected>>", lambda _e: self.rerender())
        ttk.Label(row, text="  검색 · search").pack(side=tk.LEFT)
        entry = ttk.Entry(row, textvariable=self.search, width=30)
        entry.pack(side=tk.LEFT, padx=4)
        self.search.trace_add("write", lambda *_a: self.rerender())
        ttk.Checkbutton(
            row, text="일시정지 · pause", variable=self.paused, command=self._on_pause
        ).pack(side=tk.LEFT, padx=8)
        self.count = ttk.Label(row, text="")
        self.count.pack(side=tk.RIGHT)
        ttk.Label(self, text=source_note).pack(anchor="w", pady=(4, 0))

    def add(self, lines: list[LogLine]) -> None:
        """New lines: kept always, shown unless paused or filtered out."""
        self.buffer.extend(lines)
        if self.paused.get():
            self._count()
            return
        shown = [line for line in lines if passes(line, self.level.get(), self.search.get())]
        self._append(shown)
        self._trim()
        self._count()

    def _on_pause(self) -> None:
        if not self.paused.get():
            self.rerender()

    def rerender(self) -> None:
        """Redraw from the buffer with the current filter and search."""
        self.text.configure(state=tk.NORMAL)
        self.text.delete("1.0", tk.END)
        self.text.configure(state=tk.DISABLED)
        self._append(self.buffer.visible(self.level.get(), self.search.get())[-SHOWN_LIMIT:])
        self._count()

    def _append(self, lines: list[LogLine]) -> None:
        if not lines:
            return
        at_bottom = self.text.yview()[1] >= 0.999
        self.text.configure(state=tk.NORMAL)
        needle = self.search.get()
        for line in lines:
            start = self.text.index("end-1c")
            prefix = "[train] " if line.source == "train" else ""
            self.text.insert(tk.END, prefix + line.text + "\n", (line.level, line.source))
            if needle:
                self._highlight(start, needle)
        self.text.configure(state=tk.DISABLED)
        if at_bottom:
            self.text.see(tk.END)

    def _highlight(self, start: str, needle: str) -> None:
        length = tk.IntVar()
        pos = self.text.search(needle, start, stopindex=tk.END, nocase=True, count=length)
        while pos:
            end = f"{pos}+{length.get()}c"
            self.text.tag_add("match", pos, end)
            pos = self.text.search(needle, end, stopindex=tk.END, nocase=True, count=length)

    def _trim(self) -> None:
        lines = int(self.text.index("end-1c").split(".")[0])
        if lines > SHOWN_LIMIT + 200:
            self.text.configure(state=tk.NORMAL)
            self.text.delete("1.0", f"{lines - SHOWN_LIMIT}.0")
            self.text.configure(state=tk.DISABLED)

    def _count(self) -> None:
        note = " · 일시정지됨 · paused" if self.paused.get() else ""
        self.count.configure(text=f"{len(self.buffer.lines)} 줄 · lines{note}")

    def shown_text(self) -> str:
        """What the pane shows now."""
        return self.text.get("1.0", tk.END)
