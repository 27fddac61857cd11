"""Ask tab · 질문: a prompt box; the three circuits stream side by side, then the merged reply."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk
from typing import Any

from dashboard.ask_stream import AskEvent
from dashboard.server_state import CIRCUITS
from dashboard.style import CIRCUIT_COLOURS

CIRCUIT_TITLES = {"self": "자아 · self", "emotion": "감정 · emotion", "creation": "창조 · creation"}


class AskTab(ttk.Frame):
    """Prompt in, streamed circuits and merged reply out."""

    def __init__(self, parent: ttk.Notebook, on_send: Callable[[str], None]) -> None:
        super().__init__(parent, padding=8)
        self.on_send = on_send
        self.deltas = 0  # streamed pieces drawn so far
        self._prompt_row()
        self.status = ttk.Label(self, text="")
        self.status.pack(fill=tk.X, pady=(4, 0))
        panes = ttk.Frame(self)
        panes.pack(fill=tk.BOTH, expand=True, pady=6)
        self.boxes: dict[str, tk.Text] = {}
        self.heads: dict[str, ttk.Label] = {}
        for i, name in enumerate(CIRCUITS):
            panes.columnconfigure(i, weight=1, uniform="circuit")
            head = ttk.Label(panes, text=CIRCUIT_TITLES[name], foreground=CIRCUIT_COLOURS[name])
            head.grid(row=0, column=i, sticky="w", padx=4)
            box = tk.Text(panes, wrap=tk.WORD, height=14, relief=tk.SOLID, borderwidth=1)
            box.grid(row=1, column=i, sticky="nsew", padx=4)
            self.heads[name], self.boxes[name] = head, box
        panes.rowconfigure(1, weight=1)
        ttk.Label(self, text="합친 답 · merged reply", style="Title.TLabel").pack(anchor="w")
        self.merged = tk.Text(self, wrap=tk.WORD, height=8, relief=tk.SOLID, borderwidth=1)
        self.merged.pack(fill=tk.BOTH, expand=True)
        ttk.Label(self, text="떠올린 기억 · remembered lines (origin only)",
                  style="Title.TLabel").pack(anchor="w", pady=(6, 0))
        self.remembered = tk.Text(self, wrap=tk.WORD, height=5, relief=tk.SOLID, borderwidth=1)
        self.remembered.pack(fill=tk.BOTH, expand=False)

    def _prompt_row(self) -> None:
        row = ttk.Frame(self)
        row.pack(fill=tk.X)
        ttk.Label(row, text="질문 · prompt (Ctrl+Enter)").pack(anchor="w")
        self.prompt = tk.Text(row, height=3, wrap=tk.WORD, relief=tk.SOLID, borderwidth=1)
        self.prompt.pack(side=tk.LEFT, fill=tk.X, expand=True)
        self.send_button = ttk.Button(row, text="보내기 · Send", command=self._send)
        self.send_button.pack(side=tk.LEFT, padx=6, fill=tk.Y)
        self.prompt.bind("<Control-Return>", self._on_ctrl_enter)

    def _on_ctrl_enter(self, _event: tk.Event) -> str:
        self._send()
        return "break"

    def _send(self) -> None:
        prompt = self.prompt.get("1.0", tk.END).strip()
        if not prompt:
            self.status.configure(text="질문을 입력하세요 · type a prompt first")
            return
        for name, box in self.boxes.items():
            box.delete("1.0", tk.END)
            self.heads[name].configure(text=CIRCUIT_TITLES[name])
        self.merged.delete("1.0", tk.END)
        self.remembered.delete("1.0", tk.END)
        self.status.configure(text="보내는 중 · streaming…")
        self.send_button.state(["disabled"])
        self.on_send(prompt)

    def handle(self, event: AskEvent) -> None:
        """Draw one streamed event."""
        if event.kind == "delta" and event.circuit in self.boxes:
            self.deltas += 1
            self.boxes[event.circuit].insert(tk.END, event.text)
            self.boxes[event.circuit].see(tk.END)
        elif event.kind == "done":
            self._done(event.doc)
        elif event.kind == "error":
            self.status.configure(text=f"오류 · error: {event.text}")

    def _done(self, doc: dict[str, Any]) -> None:
        for name, c in (doc.get("circuits") or {}).items():
            if name not in self.boxes:
                continue
            stats = f"{c.get('status')} · {c.get('ms')} ms · {c.get('tokens')} tok"
            head = f"{CIRCUIT_TITLES[name]} — {stats}"
            self.heads[name].configure(text=head)
            box = self.boxes[name]
            if not box.get("1.0", tk.END).strip() and c.get("text"):
                box.insert(tk.END, c["text"])
        self.merged.insert(tk.END, doc.get("reply", ""))
        self.remembered.insert(tk.END, remembered_text(doc))
        saved = (doc.get("memory") or {}).get("saved")
        self.status.configure(
            text=f"완료 · done: kind={doc.get('kind')} · {doc.get('ms')} ms · "
            f"기억 저장 · saved={saved}"
        )

    def finished(self) -> None:
        """The stream ended (however it ended): the button works again."""
        self.send_button.state(["!disabled"])

    def text_of(self, name: str) -> str:
        """What a circuit's box (or `merged`, or `remembered`) shows."""
        extra = {"merged": self.merged, "remembered": self.remembered}
        box = extra.get(name) or self.boxes[name]
        return box.get("1.0", tk.END).strip()


def remembered_text(doc: dict[str, Any]) -> str:
    """The answer's `memory.context`, one line each: where it is, then what it says."""
    lines = (doc.get("memory") or {}).get("context") or []
    return "\n".join(
        f"{u.get('day')} · part {u.get('part')} · line {u.get('line')} · "
        f"{u.get('speaker') or '?'}: {u.get('text', '')}"
        for u in lines if isinstance(u, dict)
    )
