"""Ports for servers the test session starts (IdPs, live servers): from E2E_PORT_RANGE when set, e.g. 8200-8299,
so parallel runs on one machine keep to their own ranges; otherwise any free port the OS picks."""

from __future__ import annotations

import os
import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` nobody listens on right now (first free one of E2E_PORT_RANGE, or the OS's choice)."""
    spec = os.environ.get("E2E_PORT_RANGE", "").strip()
    if not spec:
        with socket.socket() as probe:
            probe.bind((host, 0))
            return probe.getsockname()[1]
    first, _, last = spec.partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"No free port in E2E_PORT_RANGE={spec}.")
