"""The daemon's edges in the simulation: every store call and vendor call passes here.

- :class:`Outside` counts the daemon's outside calls, runs the actions armed
  to happen "just before call k" (an admin cancel in the middle of a tick, a
  crash between an intent and its effect), yields to the event loop a seeded
  number of times (other tasks run in between: the interleavings), and once
  the daemon has crashed refuses every call (a dead process does nothing).
- :class:`FaultyStore` wraps the daemon's stores: blocking calls run inline
  (no thread: the simulation stays deterministic) and writes fail inside a
  ``db_write`` fault window.
- :class:`FaultyTransport` sits between the real clients and the simulator's
  ASGI app: 5xx, timeouts before the call lands, responses lost after it
  landed, unreadable gateways.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from scheduler.clock import FakeClock
from scheduler.errors import StoreError
from tests.sim.reads import SnapshotCache
from tests.sim.world import Fault

#: Store methods that write (a ``db_write`` fault refuses them before they commit).
WRITES = frozenset(
    {
        "begin_intent",
        "end_intent",
        "record",
        "replace_planned",
        "insert",
        "claim",
        "mark_intent",
        "save",
    }
)


class SimCrash(BaseException):  # not an error: the process vanishes
    """The daemon process dies here (kill -9): nothing of it runs any more."""


class Outside:
    """Counts outside calls; runs armed mid-tick actions; refuses calls once crashed."""

    def __init__(self, clock: FakeClock, rng: random.Random, faults: tuple[Fault, ...]) -> None:
        self.clock = clock
        self.rng = rng
        self.faults = faults
        self.dead = False
        self.calls = 0
        #: Failures so far of each fault with a ``count`` (by index in ``faults``).
        self.hits = [0] * len(faults)
        #: (countdown, callback returning "before"/"after"/None for a crash).
        self.armed: list[list[Any]] = []

    def arm(self, countdown: int, callback: Callable[[], str | None]) -> None:
        self.armed.append([countdown, callback])

    def fault(self, kind: str, target: str = "") -> bool:
        """Whether this call fails under an active fault of ``kind``.

        A fault with a target hits only calls to that target (a gateway; the
        ``control`` store or one of its methods, ``control.claim``; BECON
        ``PUT``s); one without hits every call of its kind. A fault with a
        ``count`` fails that many calls, then no more.
        """
        now = self.clock.now()
        for index, fault in enumerate(self.faults):
            if fault.kind != kind or not fault.active(now) or not _aims(fault.target, target):
                continue
            if fault.count:
                if self.hits[index] >= fault.count:
                    continue
                self.hits[index] += 1
                return True
            return self.rng.random() < fault.rate
        return False

    async def enter(self) -> bool:
        """Before an outside call: True if the daemon crashes right after it."""
        for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3))):
            await asyncio.sleep(0)  # let other tasks run first: a seeded interleaving
        if self.dead:
            raise SimCrash("the daemon is dead")
        self.calls += 1
        crash_after = False
        due = [a for a in self.armed if a[0] <= 1]
        for item in self.armed:
            item[0] -= 1
        self.armed = [a for a in self.armed if a[0] > 0]
        for _, callback in due:
            phase = callback()
            if phase == "before":
                self.dead = True
                raise SimCrash("crash before an outside call")
            crash_after = crash_after or phase == "after"
        return crash_after

    def leave(self, crash_after: bool) -> None:
        if crash_after:
            self.dead = True
            raise SimCrash("crash after an outside call")


class FaultyStore:
    """A daemon store (engine's or HVAC's) run inline, with write faults and crashes."""

    def __init__(
        self, inner: object, outside: Outside, name: str, cache: SnapshotCache | None = None
    ) -> None:
        self._inner = inner
        self._outside = outside
        #: The engine's snapshot, read once per database version (tests/sim/reads.py).
        self._cache = cache
        #: ``engine`` or ``control`` (the HVAC controller's): a fault may aim at one.
        self._name = name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def wraps(self, fn: Callable[..., Any]) -> bool:
        """``fn`` is a method of the store this one wraps."""
        return getattr(fn, "__self__", None) is self._inner

    async def call(self, fn: Callable[..., Any], *args: object, **kwargs: object) -> Any:
        name = getattr(fn, "__name__", "")
        crash_after = await self._outside.enter()
        if self.faulted(fn):
            raise _write_failure(fn)
        if name == "snapshot" and self._cache is not None:
            result = self._cache.snapshot(self._inner, *args)
        else:
            result = fn(*args, **kwargs)
        self._outside.leave(crash_after)
        return result

    async def run_batch(
        self, runner: Callable[[Sequence[Any]], Sequence[Any]], calls: Sequence[Any]
    ) -> list[Any]:
        """A batch as the SQL store runs it (``runner``: its ``together``), with one crash
        point for the whole batch (a crash inside it commits nothing: a crash before it).

        A write fault drawn for any call fails the batch as the store's own failure does:
        nothing of it is written and each call runs alone, the faulted one failing.
        """
        crash_after = await self._outside.enter()
        faulted = [self.faulted(call.func) for call in calls]
        if any(faulted):
            results = [
                _write_failure(call.func) if fault else runner([call])[0]
                for call, fault in zip(calls, faulted, strict=True)
            ]
        else:
            results = list(runner(calls))
        self._outside.leave(crash_after)
        return results

    def faulted(self, fn: Callable[..., Any]) -> bool:
        """Whether a write fault hits this call (drawn once per call)."""
        name = getattr(fn, "__name__", "")
        return name in WRITES and self._outside.fault("db_write", f"{self._name}.{name}")


def _write_failure(fn: Callable[..., Any]) -> StoreError:
    return StoreError(f"simulated database write failure in {getattr(fn, '__name__', '')}")


def _aims(aimed: str, target: str) -> bool:
    return aimed in ("", target) or target.startswith(aimed + ".")


class FaultyTransport(httpx.AsyncBaseTransport):
    """The simulator's app behind seeded vendor faults."""

    def __init__(self, inner: httpx.AsyncBaseTransport, outside: Outside) -> None:
        self.inner = inner
        self.outside = outside

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        crash_after = await self.outside.enter()
        path = request.url.path
        api = "dr" if path.startswith("/dr") else "becon"
        method = request.method
        if self._unreadable(path) or self.outside.fault(f"{api}_5xx", method):
            code: object = 5000 if api == "dr" else "5000"
            return httpx.Response(500, json={"code": code, "message": "simulated outage"})
        if self.outside.fault(f"{api}_timeout", method):
            raise httpx.ReadTimeout("simulated timeout before the call landed", request=request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if self.outside.fault(f"{api}_lost"):
            raise httpx.ReadTimeout("simulated response lost after the effect", request=request)
        self.outside.leave(crash_after)
        return response

    def _unreadable(self, path: str) -> bool:
        if not path.endswith("/state"):
            return False
        parts = path.split("/")
        if "site" not in parts or "gw" not in parts:
            return False
        site = parts[parts.index("site") + 1]
        gateway = parts[parts.index("gw") + 1]
        return self.outside.fault("gateway_unreadable", f"{site}/{gateway}")

    async def aclose(self) -> None:
        """The simulator outlives the daemon: closing a client leaves it alone."""
