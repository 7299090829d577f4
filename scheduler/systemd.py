"""systemd's notify protocol (sd_notify) and watchdog, without libsystemd.

A datagram of ``KEY=VALUE`` lines to the unix socket named by
``$NOTIFY_SOCKET`` (a leading ``@`` means Linux's abstract namespace). With
no socket every call is a no-op, so the daemon runs the same outside systemd.

The unit is ``Type=notify`` with ``ExecReload=`` (``notify-reload`` needs
systemd 253; Debian 12 has 252): ``READY=1`` only after start-up reconcile,
``RELOADING=1`` with ``MONOTONIC_USEC`` while plans are re-read, then
``READY=1`` again; ``STOPPING=1`` on the way out. The watchdog is pinged from
the event loop itself (a stuck loop must miss its pings), every half
``$WATCHDOG_USEC``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("scheduler.systemd")


class Notifier:
    """Sends sd_notify datagrams; a no-op when ``$NOTIFY_SOCKET`` is unset."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self._address = _address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_usec = _watchdog_usec(env)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send one datagram; False (logged once per failure) when it could not be sent.

        Never blocks: the socket is non-blocking, so a receiver that stopped
        reading (its queue full) costs a dropped datagram, not a stuck event
        loop (which would then miss its watchdog pings and every timer).
        """
        if self._address is None:
            return False
        payload = "\n".join(lines).encode()
        kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        try:
            with socket.socket(socket.AF_UNIX, kind) as sock:
                sock.sendto(payload, self._address)
        except OSError as exc:
            log.warning("systemd.notify_failed", error=str(exc))
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half the timeout), None when not asked for."""
        if self._watchdog_usec is None or self._address is None:
            return None
        return self._watchdog_usec / 2_000_000


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """``$WATCHDOG_USEC`` if it is meant for this process (``$WATCHDOG_PID`` unset or ours)."""
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec if usec > 0 else None
