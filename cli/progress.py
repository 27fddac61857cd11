"""The progress bar of `echo-brain train` and `echo-brain tune`: the kit's events, rendered."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console


class TrainProgress:
    """The progress bar: loss, validation loss and bits per byte, tokens/s, ETA."""

    def __init__(self, console: Console, enabled: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.enabled = enabled
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]train[/bold] step {task.fields[step]}"), BarColumn(),
            TextColumn("loss {task.fields[loss]} · val {task.fields[val]} · "
                       "{task.fields[bpb]} bpb · {task.fields[tps]} tok/s"),
            TimeRemainingColumn(), console=console, disable=not enabled, transient=False,
        )
        self.task = self.progress.add_task("train", total=1000, visible=False, step=0,
                                           loss="-", val="-", bpb="-", tps="-")

    def __enter__(self) -> TrainProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def event(self, kind: str, doc: dict[str, Any]) -> None:
        """Render one event of the training run."""
        if not self.enabled:
            return
        if kind == "phase":
            self.progress.console.print(doc["message"], highlight=False)
        elif kind == "start":
            self.progress.console.print(
                f"{doc['params']:,} parameters, {doc['train_tokens']:,} training tokens, "
                f"{doc['device']}{' bf16' if doc['bf16'] else ''}"
                f"{' compiled' if doc.get('compile') else ''}, from step {doc['step']}",
                highlight=False)
            self.progress.update(self.task, visible=True)
        elif kind == "step":
            self.progress.update(self.task, completed=doc["progress"] * 1000, step=doc["step"],
                                 loss=f"{doc['loss']:.3f}")
        elif kind == "log":
            self.progress.update(self.task, val=f"{doc['val_loss']:.3f}",
                                 bpb=f"{doc['val_bpb']:.3f}", tps=f"{doc['tokens_per_s']:,.0f}")
            if not self.console.is_terminal:
                self.progress.console.print(json.dumps(doc), highlight=False, soft_wrap=True)
        elif kind == "checkpoint":
            self.progress.console.print(f"checkpoint at step {doc['step']} / 체크포인트 저장",
                                        highlight=False)
