"""Faults on the vendor routes (never on ``/_sim``): latency, errors, hangs.

Per call, in this order: a latency of ``latency_ms ± jitter_ms``; then
``fail_rate`` answers HTTP 500 with code 5000 (``{"code": "5000"}`` on BECON
paths); ``timeout_rate`` hangs *before* the service sees the call;
``timeout_after_rate`` lets the service handle it and then hangs, losing the
response (the ambiguous failure of an idempotent create). A hang lasts
``timeout_hang_s`` or until the client gives up and disconnects.

``throttle`` (queued only, see ``next``) answers HTTP 429 with a
``Retry-After`` of the item's ``retry_after`` seconds (default 1): neither
spec gives 429 a code of its own, so its body has only a message.

Deterministic: one ``random.Random(seed)`` draws the same four numbers for
every call, so a seed and a sequence of calls give the same faults. Tests can
also queue one-shot faults for the next matching call (``next`` below).

``GET /_sim/faults`` shows the settings, the queue and counts;
``POST /_sim/faults`` changes any of them at run time, e.g.
``{"fail_rate": 0.2, "seed": 7}`` or
``{"next": [{"fault": "timeout_after", "method": "POST", "path": "/dr/requests"}]}`` or
``{"next": [{"fault": "throttle", "retry_after": 7}]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.simulator.options import SimOptions

KINDS = ("fail", "timeout", "timeout_after", "throttle")
#: The keys a queued fault may have (see :class:`Scripted`).
SCRIPT_KEYS = frozenset({"fault", "method", "path", "count", "retry_after"})
DEFAULT_RETRY_AFTER_S = 1.0
BECON_PREFIX = "/tms/"
ADMIN_PREFIX = "/_sim"


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_after_rate: float = 0.0
    timeout_hang_s: float = 30.0
    seed: int = 0

    @classmethod
    def from_options(cls, options: SimOptions) -> FaultSettings:
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls)})


def _problems(changes: Mapping[str, Any]) -> list[str]:
    known = {f.name for f in fields(FaultSettings)} | {"next"}
    problems = [f"{key}: unknown setting" for key in changes if key not in known]
    for key, value in changes.items():
        if key in ("seed", "next") or key not in known:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"{key}: must be a number >= 0")
        elif key.endswith("_rate") and value > 1:
            problems.append(f"{key}: must be between 0 and 1")
    if "seed" in changes and (
        isinstance(changes["seed"], bool) or not isinstance(changes["seed"], int)
    ):
        problems.append("seed: must be an integer")
    return problems + _script_problems(changes.get("next", []))


def _script_problems(script: object) -> list[str]:
    if not isinstance(script, list):
        return ["next: must be a list"]
    return [
        f"next[{i}]: needs fault in {list(KINDS)}, optional method, path prefix, "
        "count >= 1, retry_after >= 0 (seconds)"
        for i, item in enumerate(script)
        if not _valid_script_item(item)
    ]


def _valid_script_item(item: object) -> bool:
    if not isinstance(item, dict) or not set(item) <= SCRIPT_KEYS or item.get("fault") not in KINDS:
        return False
    count, retry_after = item.get("count", 1), item.get("retry_after", 0)
    return (
        isinstance(count, int)
        and not isinstance(count, bool)
        and count >= 1
        and isinstance(retry_after, int | float)
        and not isinstance(retry_after, bool)
        and retry_after >= 0
    )


@dataclass
class Scripted:
    """A one-shot fault for the next ``count`` calls matching method and path prefix."""

    fault: str
    method: str | None = None
    path: str = "/"
    count: int = 1
    retry_after: float | None = None  # throttle only: the Retry-After header, in seconds

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and path.startswith(self.path)


@dataclass(frozen=True)
class Decision:
    fault: str | None
    delay_s: float
    retry_after: float | None = None


class Faults:
    """The fault settings, their random source, the one-shot queue and counts."""

    def __init__(self, options: SimOptions) -> None:
        self.settings = FaultSettings.from_options(options)
        self._rng = random.Random(self.settings.seed)
        self.script: list[Scripted] = []
        self.counts: Counter[str] = Counter()

    def decide(self, method: str, path: str) -> Decision:
        """What happens to this call (always four draws, for determinism)."""
        s = self.settings
        jitter, fail, hang, hang_after = (self._rng.random() for _ in range(4))
        delay_ms = max(0.0, s.latency_ms + (2 * jitter - 1) * s.jitter_ms)
        scripted = self._scripted(method, path)
        fault = scripted.fault if scripted else None
        if fault is None:
            rolls = [
                ("fail", fail, s.fail_rate),
                ("timeout", hang, s.timeout_rate),
                ("timeout_after", hang_after, s.timeout_after_rate),
            ]
            fault = next((kind for kind, roll, rate in rolls if roll < rate), None)
        self.counts["calls"] += 1
        if fault is not None:
            self.counts[fault] += 1
        retry_after = scripted.retry_after if scripted else None
        return Decision(fault, delay_ms / 1000, retry_after)

    def _scripted(self, method: str, path: str) -> Scripted | None:
        item = next((i for i in self.script if i.matches(method, path)), None)
        if item is None:
            return None
        item.count -= 1
        if item.count == 0:
            self.script.remove(item)
        return item

    def apply(self, changes: Mapping[str, Any]) -> list[str]:
        """Change settings (re-seeding on ``seed``) and queue ``next``; problems, if any."""
        problems = _problems(changes)
        if problems:
            return problems
        for key, value in changes.items():
            if key != "next":
                setattr(self.settings, key, value)
        if "seed" in changes:
            self._rng = random.Random(self.settings.seed)
        self.script += [Scripted(**item) for item in changes.get("next", [])]
        return []

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self.settings),
            "next": [asdict(i) for i in self.script],
            "counts": dict(self.counts),
        }

    async def endpoint(self, request: Request) -> Response:
        """``GET|POST /_sim/faults``."""
        if request.method == "POST":
            try:
                changes = await request.json()
            except json.JSONDecodeError:
                changes = None
            if not isinstance(changes, dict):
                return JSONResponse({"errors": ["body: must be a JSON object"]}, status_code=400)
            problems = self.apply(changes)
            if problems:
                return JSONResponse({"errors": problems}, status_code=400)
        return JSONResponse(self.as_json())


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _hang(receive: Receive, seconds: float) -> None:
    """Wait ``seconds``, or less if the client gives up first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_until_disconnect(receive), seconds)


async def _server_error(path: str, send: Send) -> None:
    code: int | str = "5000" if path.startswith(BECON_PREFIX) else 5000
    body = json.dumps({"code": code, "message": "simulated server error"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _throttled(retry_after: float | None, send: Send) -> None:
    seconds = DEFAULT_RETRY_AFTER_S if retry_after is None else retry_after
    body = json.dumps({"message": "simulated throttling: too many requests"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", f"{seconds:g}".encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


#: The scope key holding when a call reached the simulator (``time.monotonic``).
ARRIVED = "drsched.arrived"


def waited(scope: Scope) -> float:
    """Seconds since the call reached the simulator: its latency and any queueing after it.

    A call is recorded once handled, after its latency; a benchmark asking when
    a call *reached* the service takes this off the record's time (at a start,
    16 PUTs arrive together and wait for one another in the simulator's loop).
    """
    arrived = scope.get(ARRIVED)
    return 0.0 if arrived is None else time.monotonic() - arrived


class FaultMiddleware:
    """ASGI middleware applying :class:`Faults` to every route outside ``/_sim``."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        scope[ARRIVED] = time.monotonic()  # before the latency: see :func:`waited`
        decision = self.faults.decide(scope["method"], path)
        if decision.delay_s > 0:
            await asyncio.sleep(decision.delay_s)  # simulated latency, not a test's clock
        hang_s = self.faults.settings.timeout_hang_s
        if decision.fault == "fail":
            await _server_error(path, send)
        elif decision.fault == "throttle":
            await _throttled(decision.retry_after, send)
        elif decision.fault == "timeout":
            await _hang(receive, hang_s)
            await _server_error(path, send)
        elif decision.fault == "timeout_after":
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await _hang(receive, hang_s)
            for message in held:
                await send(message)
        else:
            await self.app(scope, receive, send)
