"""The end-to-end harness: a real `echo-brain serve` on a free port (see benchmarks/harness.py)."""

from benchmarks.harness import REPO, Server, free_port, run_server, server_env

__all__ = ["REPO", "Server", "free_port", "run_server", "server_env"]
