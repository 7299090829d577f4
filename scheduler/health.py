"""``/metrics`` and ``/healthz`` on ``http.listen``, served inside the daemon's loop.

A starlette app run by uvicorn on a socket we bind ourselves: a bad
``http.listen`` becomes a :class:`~scheduler.errors.ConfigError` instead of
uvicorn's ``sys.exit``, and we drive uvicorn's ``startup``/``shutdown``
rather than ``serve()``, which would take over SIGTERM/SIGINT from the daemon.

``/healthz`` answers 200 only when every check passes:

- ``loop``: the daemon beat its :class:`Heartbeat` within ``max_age`` seconds
  (a loop blocked outright cannot answer at all, which a probe's timeout
  reports; the heartbeat also catches a loop that runs but whose engine task
  has died or hung);
- ``database``: the injected async check returned within its timeout.

Otherwise 503, with a JSON body naming each check and why it failed. A
standby instance is healthy: ``leader`` in the body is informational.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scheduler import metrics
from scheduler.config import split_listen
from scheduler.errors import ConfigError

log = structlog.get_logger("scheduler.health")

#: An async check: returns when healthy, raises (anything) when not.
Check = Callable[[], Awaitable[object]]


@dataclass
class Heartbeat:
    """When the daemon's loop last proved it was working.

    The daemon calls :meth:`beat` from a job that runs every few seconds (the
    plan-revision check, say); ``max_age`` should be several beat intervals.
    ``monotonic`` is injectable so tests move time without sleeping.
    """

    max_age: float = 30.0
    monotonic: Callable[[], float] = time.monotonic
    _last: float | None = field(default=None, init=False)

    def beat(self) -> None:
        self._last = self.monotonic()

    def age(self) -> float | None:
        """Seconds since the last beat; None before the first."""
        return None if self._last is None else self.monotonic() - self._last


@dataclass(frozen=True)
class HealthChecks:
    """What ``/healthz`` checks; ``leader`` (optional) is reported, not judged."""

    heartbeat: Heartbeat
    database: Check
    database_timeout: float = 5.0
    leader: Callable[[], bool] | None = None
    #: More named checks judged like ``database`` (e.g. ``openadr``: the VEN's registration).
    extra: Mapping[str, Check] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


def _loop_result(heartbeat: Heartbeat) -> CheckResult:
    age = heartbeat.age()
    if age is None:
        return CheckResult(False, "no heartbeat yet (still starting?)")
    if age > heartbeat.max_age:
        return CheckResult(False, f"last heartbeat {age:.1f}s ago (limit {heartbeat.max_age:g}s)")
    return CheckResult(True, f"last heartbeat {age:.1f}s ago")


async def _database_result(checks: HealthChecks) -> CheckResult:
    return await _check_result(checks.database, checks.database_timeout, "reachable")


async def _check_result(check: Check, limit: float, ok: str) -> CheckResult:
    try:
        detail = await asyncio.wait_for(check(), limit)
    except TimeoutError:
        return CheckResult(False, f"no answer within {limit:g}s")
    except Exception as exc:  # any failure is the answer; the detail names it
        first_line = (str(exc).splitlines() or [""])[0][:200]
        return CheckResult(False, f"{type(exc).__name__}: {first_line}")
    return CheckResult(True, detail if isinstance(detail, str) else ok)


async def health_report(checks: HealthChecks) -> tuple[bool, dict[str, Any]]:
    """Run every check; (healthy, the JSON body)."""
    results = {"loop": _loop_result(checks.heartbeat), "database": await _database_result(checks)}
    for name, check in checks.extra.items():
        results[name] = await _check_result(check, checks.database_timeout, "ok")
    healthy = all(r.ok for r in results.values())
    body: dict[str, Any] = {
        "status": "ok" if healthy else "fail",
        "checks": {name: {"ok": r.ok, "detail": r.detail} for name, r in results.items()},
    }
    if checks.leader is not None:
        body["leader"] = checks.leader()
    return healthy, body


def create_app(
    checks: HealthChecks,
    registry: Callable[[], CollectorRegistry] = metrics.registry,
) -> Starlette:
    """The ASGI app; ``registry`` is looked up per scrape (tests swap it)."""

    async def scrape(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry()), headers={"Content-Type": content_type})

    async def healthz(request: Request) -> Response:
        healthy, body = await health_report(checks)
        if not healthy:
            log.warning("health.failing", checks=body["checks"])
        return Response(
            json.dumps(body) + "\n",
            status_code=200 if healthy else 503,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    routes = [Route("/metrics", scrape, methods=["GET"]), Route("/healthz", healthz)]
    return Starlette(routes=routes)


def ping_database(engine: Engine, then: Callable[[], object] | None = None) -> Check:
    """A database check for :class:`HealthChecks`: ``SELECT 1`` in a worker thread, then
    ``then`` (the daemon's :class:`~scheduler.store.identity.DatabaseGuard` check: the
    same database, and writable).

    Single-flight: while one ping hangs (a database host that drops packets
    can keep a connect waiting for minutes), later probes wait for that same
    ping instead of starting another thread each, so probes never use up the
    thread pool the daemon's own database calls run in.
    """
    running: asyncio.Future[None] | None = None

    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if then is not None:
            then()

    async def check() -> None:
        nonlocal running
        if running is None or running.done():
            running = asyncio.ensure_future(asyncio.to_thread(select_one))
            running.add_done_callback(_retrieve)
        await asyncio.shield(running)  # a probe's timeout must not abandon the shared ping

    return check


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark the outcome seen: a ping every probe gave up on is not "never retrieved"."""
    if not future.cancelled():
        future.exception()


def bind_listen(listen: str) -> socket.socket:
    """A non-blocking listening socket on ``listen`` (``host:port``, see :func:`split_listen`).

    Created with ``IPPROTO_TCP`` (as :mod:`scheduler.simulator.server` does):
    asyncio sets ``TCP_NODELAY`` only on connections whose listening socket
    says so, and ``socket.create_server`` leaves ``proto`` 0, which cost every
    call on a kept-alive connection ~40 ms (Nagle meeting a delayed ACK).
    """
    try:
        host, port = split_listen(listen)
    except ValueError as exc:
        raise ConfigError.single("http.listen", str(exc)) from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ConfigError.single("http.listen", f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@asynccontextmanager
async def serve_health(
    listen: str,
    checks: HealthChecks,
    registry: Callable[[], CollectorRegistry] = metrics.registry,
) -> AsyncIterator[str]:
    """Serve ``/metrics`` and ``/healthz`` on ``listen`` in the running loop; yield the base URL."""
    sock = bind_listen(listen)
    config = uvicorn.Config(
        create_app(checks, registry),
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
    except BaseException:
        sock.close()
        raise
    ticking = asyncio.create_task(server.main_loop(), name="drsched-health")
    url = _url(sock)
    log.info("health.listening", url=url)
    try:
        yield url
    finally:
        server.should_exit = True
        await ticking
        await server.shutdown(sockets=[sock])
