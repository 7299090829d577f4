"""Real processes and sockets: a free port, a ``drsched run`` process and its health port,
polling an outside state with a deadline (never a fixed sleep)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll an outside process's state until ``check`` holds; how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)  # polling other processes, bounded by the deadline
    raise AssertionError(f"timed out after {seconds:g}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    """One `drsched run` process and its health port."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)
        except httpx.TransportError:
            return None

    def health(self) -> dict[str, Any] | None:
        response = self.get("/healthz")
        return response.json() if response is not None and response.status_code == 200 else None

    def metric(self, name: str) -> float | None:
        response = self.get("/metrics")
        if response is None:
            return None
        for line in response.text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def healthz(port: int) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"http://127.0.0.1:{port}/healthz")
