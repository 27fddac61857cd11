"""Whether a host names this machine: the one test for the server's bind address and Host
header (core/gate.py) and for plain-HTTP remote circuits (remote_backend.py). No imports
beyond the standard library: the server's start-up path reads it."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for localhost, *.localhost, 127.0.0.0/8 and ::1 (a name or literal, brackets,
    case and a trailing dot ignored; a name is never resolved: only these count)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
