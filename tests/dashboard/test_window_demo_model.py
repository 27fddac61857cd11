"""The window on a server running the real demo GGUF in all three circuits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.dashboard.conftest import START_S
from tests.dashboard.ui import dashboard, pump_for, pump_until, select, tree_rows
from tests.e2e_server import run_server

ORIGIN = "dashboard-demo-origin-token"


def test_real_model_circuits_ready_and_streamed_reply(
    display: str, tmp_path: Path, screenshot: Callable[[str], Path]
) -> None:
    # no ECHO_*_MODEL: the demo model everywhere; the origin's token: /ready shows him backends
    with run_server(tmp_path / "srv", start_timeout=START_S, ECHO_ORIGIN_TOKEN=ORIGIN) as srv:
        with dashboard(srv.url, tmp_path / "run", srv.log_path, token=ORIGIN) as app:
            pump_until(
                app,
                lambda: app.server_tab.last_view is not None and app.server_tab.last_view.ready,
                timeout=180,
            )
            rows = tree_rows(app.server_tab.circuits)
            assert [rows[name][1] for name in ("self", "emotion", "creation")] == ["ready"] * 3
            assert all(rows[name][2].startswith("llama:SmolLM2") for name in rows), rows

            select(app, app.ask_tab, settle=0.2)
            app.ask_tab.prompt.insert("1.0", "Tell me a short story about the sea.")
            app.ask_tab.send_button.invoke()
            pump_until(app, lambda: app.ask_tab.text_of("merged"), timeout=180)
            assert app.ask_tab.deltas >= 15  # token by token over SSE, not one block at the end
            for name in ("self", "emotion", "creation"):
                assert len(app.ask_tab.text_of(name).split()) >= 3, name
            pump_for(app, 0.5)
            screenshot("ask-demo-model")
            select(app, app.server_tab, settle=2.0)
            pump_until(
                app,
                lambda: any((c.tokens_per_s or 0) > 0 for c in app.server_tab.last_view.circuits),
            )  # type: ignore[union-attr]
            select(app, app.server_tab, settle=1.6)
            screenshot("server-demo-model")
