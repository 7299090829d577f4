"""Signals while no daemon runs: a standby stops on SIGTERM/SIGINT and shrugs off SIGHUP.

Once elected, the daemon replaces these handlers with its own
(:mod:`scheduler.engine.daemon`), so these only cover the standby (and the
schema upgrade before it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import structlog

log = structlog.get_logger("scheduler.supervise")


@contextlib.contextmanager
def standby_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop``; SIGHUP (``systemctl reload``) must not kill a standby."""
    loop = asyncio.get_running_loop()
    handlers = {signal.SIGTERM: stop.set, signal.SIGINT: stop.set, signal.SIGHUP: _hup}
    installed = []
    for sig, handler in handlers.items():
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def _hup() -> None:
    log.info("supervise.reload_ignored", reason="not leading: plans are read when elected")
