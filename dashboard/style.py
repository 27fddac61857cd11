"""Fonts, colours and ttk styles; a Korean font for Tk and matplotlib so Hangul renders."""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

KOREAN_FAMILIES = (
    "NanumGothic",
    "NanumBarunGothic",
    "Noto Sans CJK KR",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
    "UnDotum",
)
MONO_FAMILIES = ("NanumGothicCoding", "D2Coding", "Noto Sans Mono CJK KR", "DejaVu Sans Mono")

STATE_COLOURS = {
    "ready": "#1e8e3e",
    "ok": "#1e8e3e",
    "loading": "#e37400",
    "pending": "#9aa0a6",
    "booting": "#e37400",
    "running": "#e37400",
    "restarting": "#e37400",
    "failed": "#d93025",
    "error": "#d93025",
    "unreachable": "#d93025",
    "unauthorized": "#d93025",
    "unknown": "#9aa0a6",
    "done": "#1e8e3e",
}
CIRCUIT_COLOURS = {"self": "#1a73e8", "emotion": "#e52592", "creation": "#12a4af"}


def pick_family(root: tk.Misc, wanted: tuple[str, ...], fallback: str) -> str:
    """The first installed family of `wanted`, else `fallback`."""
    installed = set(tkfont.families(root))
    return next((name for name in wanted if name in installed), fallback)


def apply_style(root: tk.Tk) -> dict[str, str]:
    """Set the default fonts and ttk styles; returns the chosen families."""
    family = pick_family(root, KOREAN_FAMILIES, "TkDefaultFont")
    mono = pick_family(root, MONO_FAMILIES, "TkFixedFont")
    for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont", "TkCaptionFont"):
        tkfont.nametofont(name, root).configure(family=family, size=10)
    tkfont.nametofont("TkFixedFont", root).configure(family=mono, size=10)
    style = ttk.Style(root)
    if "clam" in style.theme_names():
        style.theme_use("clam")
    style.configure("Treeview", rowheight=24)
    style.configure("Title.TLabel", font=(family, 13, "bold"))
    style.configure("Big.TLabel", font=(family, 12))
    for state, colour in STATE_COLOURS.items():
        style.configure(f"{state}.State.TLabel", foreground=colour, font=(family, 11, "bold"))
    _matplotlib_font(family)
    return {"family": family, "mono": mono}


def _matplotlib_font(family: str) -> None:
    import matplotlib

    matplotlib.rcParams["font.family"] = [family, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["font.size"] = 9


def state_style(state: str) -> str:
    """The ttk style name for a coloured state label."""
    return f"{state if state in STATE_COLOURS else 'unknown'}.State.TLabel"
