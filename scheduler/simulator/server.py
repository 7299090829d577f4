"""Run the simulator on a real socket: in the foreground (``drsched simulate``) or
in a background thread for tests and ``drsched demo``.

``serve_in_background(options, host, port=0)`` works both as ``with`` and as
``async with``; either way it yields a :class:`Running` with the chosen port
and URLs, and stops the server (and its thread) on exit. A real socket is what
client timeouts and connection resets need; in-process tests use
``httpx.ASGITransport(app=create_app(options))`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

import uvicorn

from scheduler.simulator.app import DR_PREFIX, Simulator
from scheduler.simulator.options import SimOptions

#: How long a stopping server lets in-flight calls finish (a hung call is cut).
GRACEFUL_S = 1
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Running:
    """A simulator listening on ``url``; ``simulator`` gives its state to tests."""

    url: str
    host: str
    port: int
    simulator: Simulator

    @property
    def dr_url(self) -> str:
        """The DR client's ``base_url``."""
        return self.url + DR_PREFIX

    def __str__(self) -> str:
        return self.url


class _Server(uvicorn.Server):
    """uvicorn that tells us when it listens, and leaves signals to its owner."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # drsched simulate turns SIGINT/SIGTERM into a stop; threads cannot have them


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose ``proto`` says TCP.

    ``socket.create_server`` leaves ``proto`` 0, and asyncio only sets
    ``TCP_NODELAY`` on connections whose socket says ``IPPROTO_TCP``: without
    it, every keep-alive call waited ~40 ms for a delayed ACK (Nagle).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":  # as socket.create_server does: rebind after a restart
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(simulator: Simulator, on_started: Callable[[], None]) -> _Server:
    config = uvicorn.Config(
        simulator.app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_S,
    )
    return _Server(config, on_started)


async def serve(
    options: SimOptions,
    host: str = "127.0.0.1",
    port: int = 8780,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[Running], None] | None = None,
) -> None:
    """Serve in this event loop until ``stop`` is set (``drsched simulate``)."""
    simulator = Simulator(options)
    started = asyncio.Event()
    server = _server(simulator, started.set)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    ready = asyncio.create_task(started.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if started.is_set() and on_ready is not None:
        on_ready(Running(_url(host, bound_port), host, bound_port, simulator))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    ready.cancel()
    stopping.cancel()
    await task


class BackgroundServer:
    """The simulator in a thread of its own, with its own event loop."""

    def __init__(self, options: SimOptions, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._simulator = Simulator(options)
        self._started = threading.Event()
        self._server = _server(self._simulator, self._started.set)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the owner by __enter__
            self._error = exc
            self._started.set()

    def __enter__(self) -> Running:
        sock = _bind(self._host, self._port)
        port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"drsched-simulator:{port}", daemon=True
        )
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_S) or self._error is not None:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the simulator did not start on port {port}: {self._error!r}")
        return Running(_url(self._host, port), self._host, port, self._simulator)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S)
            self._thread = None

    async def __aenter__(self) -> Running:
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)


def serve_in_background(
    options: SimOptions, host: str = "127.0.0.1", port: int = 0
) -> BackgroundServer:
    """``with``/``async with serve_in_background(options) as sim:`` → ``sim.url``.

    Port 0 picks a free port; ``sim.port`` says which.
    """
    return BackgroundServer(options, host, port)
