"""The switching cost of a LoRA adapter served per caller: `/api/ask` p50 of a guest vs the origin.

    python -m benchmarks.bench_lora_callers

One real server: the self circuit runs the demo model with a rank-16 adapter on every
projection of all 30 layers (the shape `echo-brain tune` makes), the other two circuits
`echo`, so the figures are the self circuit's. The origin's requests get the adapter, a
guest's the base model; a request whose caller differs from the previous one switches the
adapter and restores the warm prefix made with the new setting. Guest and origin requests
alternate in runs and single turns, so switching and non-switching requests of both callers
are measured in the same run under the same load. Remembered lines are off
(ECHO_CONTEXT_LINES=0) so both callers send prompts of the same kind.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import DEMO_MODEL, load_note, machine, write_section
from benchmarks.harness import Server, run_server

ORIGIN, GUEST = "bench-origin-token", "bench-guest-token"
ROUNDS = 6
PATTERN = "gggooogogo"  # per round: runs of one caller (no switch) and alternations
TOPICS = ("sea", "lighthouse", "winter", "library", "moon", "bread", "train", "rain", "garden",
          "music", "bridge", "desert", "clock", "snow", "river", "market", "violin", "mountains",
          "letter", "harbour")


def prompt(n: int) -> str:
    """The n-th prompt; each starts with another word than the one before it, so a request
    shares no words with the previous one, whoever sent it."""
    return f"{TOPICS[n % len(TOPICS)].capitalize()}: describe it in two sentences ({n})."


def ask(server: Server, token: str, text: str) -> tuple[float, int]:
    """Seconds for one /api/ask as the client sees it, and the self circuit's tokens."""
    started = time.perf_counter()
    response = httpx.post(server.url + "/api/ask", json={"prompt": text},
                          headers={"Authorization": f"Bearer {token}"}, timeout=300)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    circuit = response.json()["circuits"]["self"]
    assert circuit["status"] == "ok", circuit
    return elapsed, int(circuit["tokens"])


def run(server: Server) -> dict[str, list[tuple[float, int]]]:
    """ROUNDS × PATTERN requests; (seconds, tokens) by caller and by whether it switched.

    The categories are interleaved in time, so a change of the machine's load weighs on
    all of them alike.
    """
    for i in range(3):  # warm both settings' kernels and pages
        ask(server, GUEST, f"Hello {i}")
        ask(server, ORIGIN, f"Hello {i}")
    out: dict[str, list[tuple[float, int]]] = {
        f"{who}, {how}": [] for who in ("guest", "origin") for how in ("same caller", "switch")}
    last, n = "o", 0
    for _ in range(ROUNDS):
        for who in PATTERN:
            name = "guest" if who == "g" else "origin"
            how = "same caller" if who == last else "switch"
            out[f"{name}, {how}"].append(ask(server, GUEST if who == "g" else ORIGIN, prompt(n)))
            last, n = who, n + 1
    return out


def p50(samples: list[tuple[float, int]]) -> float:
    return statistics.median(s for s, _ in samples) * 1000


def main() -> None:
    """Run the requests on one server and write the BENCHMARKS.md section."""
    from benchmarks.lora_fixture import ALL_TARGETS, write_lora

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        adapter = write_lora(Path(tmp) / "callers.gguf", DEMO_MODEL, layers=range(30), rank=16,
                             alpha=32.0, b_std=0.002, targets=ALL_TARGETS)
        env = {"ECHO_SELF_LORA": str(adapter), "ECHO_EMOTION_MODEL": "echo",
               "ECHO_CREATION_MODEL": "echo", "ECHO_ORIGIN_TOKEN": ORIGIN,
               "ECHO_GUEST_TOKENS": f"bench:{GUEST}", "ECHO_TEMPERATURE": "0",
               "ECHO_CONTEXT_LINES": "0", "ECHO_MAX_TOKENS": "32", "ECHO_N_THREADS": "2",
               "ECHO_MODELS_DIR": str(DEMO_MODEL.parent), "ECHO_CACHE_DIR": str(Path(tmp) / "kv")}
        with run_server(Path(tmp) / "srv", **env) as server:  # type: ignore[arg-type]
            ready = server.wait_ready()
            prefix = ready["circuits"]["self"]["prefix"]  # type: ignore[index]
            results = run(server)
    medians = {name: p50(samples) for name, samples in results.items()}
    rows = [f"| {name} | {len(samples)} | {medians[name]:.0f} | "
            f"{statistics.mean(t for _, t in samples):.1f} |"
            for name, samples in results.items()]
    ratio = medians["guest, switch"] / medians["origin, switch"]
    switch_g = medians["guest, switch"] / medians["guest, same caller"]
    switch_o = medians["origin, switch"] / medians["origin, same caller"]
    for row in rows:
        print(row, flush=True)
    print(f"guest/origin {ratio:.2f}, switching guest {switch_g:.2f}, origin {switch_o:.2f}")
    static = max(p["tokens"] for p in prefix["prefixes"])
    body = (
        f"Machine: {machine()}; {load_note(load)}. Command: "
        "`python -m benchmarks.bench_lora_callers`. One server: the self circuit runs "
        f"{DEMO_MODEL.name} with a rank-16 adapter on q, k, v, o, gate, up, down of all 30 "
        "layers (the shape `echo-brain tune` makes), 2 threads, greedy, at most 32 tokens a "
        "reply; emotion and creation are `echo`; the repository's manifests, so the static "
        f"prefix is {static} tokens, kept warm with and without the adapter. The origin's "
        "requests get the adapter, a guest's the base model. "
        f"{len(PATTERN) * ROUNDS} requests, {ROUNDS} rounds of `{PATTERN}` (g: the guest, "
        "o: the origin), every prompt distinct and starting with another word than the one "
        "before. A request after the same caller's reuses the static prefix and the few "
        "template tokens after it (its own); one after the other caller's switches the "
        "adapter, restores that setting's prefix state and reuses the static prefix only. "
        "p50 of `/api/ask` as the client sees it.\n\n"
        "| caller, previous request | n | p50 ms | tokens per reply |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nGuest vs origin, both switching, same run: **{ratio:.2f}×** (goal ≤ 1.1×). "
        f"Switching cost (switch vs same caller): guest {switch_g:.2f}×, origin "
        f"{switch_o:.2f}×."
    )
    write_section("LoRA per caller: guest vs origin / 호출자별 LoRA: 손님 대 오리진", body)


if __name__ == "__main__":
    main()
