"""Launch → the first `HEAD /` 200: how soon the port answers (RunPod's probe), median of 5.

Each launch is a fresh `python -m cli serve` (the console script's code path) with the demo
model in all three circuits and the shipped manifests, as a person starts it; the clock runs
from `Popen` to the first 200, probing every 5 ms. Also the same for `GET /health`, and how
long the import of the whole app takes in a fresh interpreter (what the front now hides).

Run: .venv/bin/python -m benchmarks.bench_head [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import DEMO_MODEL, REPO, load_note, machine, write_section
from benchmarks.harness import free_port, server_env

TITLE = "Port at once: launch → first HEAD / / 포트 즉시 응답"


def launch_to_first(work: Path, method: str, path: str) -> float:
    """Seconds from launching `echo-brain serve` to the first 200 on `method path`."""
    port = free_port()
    env = server_env(work, ECHO_MODELS_DIR=str(DEMO_MODEL.parent))
    cmd = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}{path}"
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.request(method, url, timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with {proc.returncode}")
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def app_import_s() -> float:
    """Seconds to import and build the FastAPI app in a fresh interpreter (median of 3)."""
    code = ("import time; t = time.perf_counter(); from api.app import create_app; "
            "create_app(); print(time.perf_counter() - t)")
    env = server_env(Path(tempfile.gettempdir()))
    runs = [float(subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout) for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    """Measure and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        head = [launch_to_first(work, "HEAD", "/") for _ in range(args.runs)]
        health = [launch_to_first(work, "GET", "/health") for _ in range(args.runs)]
    build = app_import_s()
    med_head, med_health = statistics.median(head), statistics.median(health)
    print(f"HEAD / {med_head:.3f} s (runs {[round(h, 3) for h in head]}), "
          f"GET /health {med_health:.3f} s, app import+build {build:.3f} s", flush=True)
    verdict = "met" if med_head <= 1.0 else "NOT met"
    body = f"""
Command: `.venv/bin/python -m benchmarks.bench_head --runs {args.runs}`
Machine: {machine()}; {load_note(load)}.

| figure | value | goal |
|---|---|---|
| launch → first `HEAD /` 200, median of {args.runs} | **{med_head:.3f} s** ({verdict}) | ≤ 1 s |
| launch → first `GET /health` 200, median of {args.runs} | {med_health:.3f} s | ≤ 1 s |
| each run, `HEAD /` | {", ".join(f"{h:.3f}" for h in head)} s | — |
| import + build of the FastAPI app, fresh interpreter | {build:.3f} s | behind the port |

`echo-brain serve --host H --port P` imports uvicorn and `api.server`, whose `app` is a small
ASGI front (`api/front.py`, standard library only) that answers `/`, `/health` and
`/ready` (503) at once and builds the FastAPI app on a thread behind the open port; the
app's lifespan (replay, circuit workers) starts as soon as it is built. Without `--host` and
`--port` the settings are read first (HOST/PORT from the environment or `.env`): about 0.1-0.3 s
more. 포트는 즉시 열리고, 앱은 그 뒤에서 만들어집니다.
"""
    if not args.no_write:
        write_section(TITLE, body)


if __name__ == "__main__":
    main()
