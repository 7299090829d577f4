"""The engine's view of HVAC control: a Protocol and a no-op default.

HVAC control (BECON setpoints during an active window) is built separately;
the engine only calls it at these points (see ``scheduler.engine.runner``):

- ``reconcile(now)`` once at start-up, before anything else happens: restore
  facilities left at a DR setpoint after a window that ended while the daemon
  was down, resume control of windows still active;
- ``prepare(event, now)`` at ``hvac.prefetch_lead`` before the window starts
  (read facility states, so the start costs only batched PUTs);
- ``start(event, now)`` when the DR service reports the event ``active``, and
  again while it is active and its window open until a call succeeds (after
  a failure, after a restart): it must be idempotent, and starts only what
  never started;
- ``stop(event, now, reason)`` when it ends: ``completed`` reported, the
  window's end passed by the clock, a remote cancel (status 9) or a local
  cancel. ``stop`` may come without ``start`` (the window was skipped over)
  and more than once: it must be idempotent;
- ``due(now)`` after every engine tick: the next instant HVAC control needs
  a wake-up of its own (a verify every ``hvac.verify_interval``, a restore
  slot of ``hvac.restore_stagger``, a retry), or None; the engine wakes up
  then and calls ``tick(now)``, which does whatever is due.

Every implementation records its own intent (original setpoints) before it
changes a facility, so these calls are safe to repeat after a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from scheduler.domain.events import PlanEvent


class HvacControl(Protocol):
    async def reconcile(self, now: datetime) -> None: ...

    async def prepare(self, event: PlanEvent, now: datetime) -> None: ...

    async def start(self, event: PlanEvent, now: datetime) -> None: ...

    async def stop(self, event: PlanEvent, now: datetime, reason: str) -> None: ...

    async def due(self, now: datetime) -> datetime | None: ...

    async def tick(self, now: datetime) -> None: ...


class NoHvac:
    """HVAC control turned off (no ``hvac.targets``, or not built yet): every call is a no-op."""

    async def reconcile(self, now: datetime) -> None:
        return None

    async def prepare(self, event: PlanEvent, now: datetime) -> None:
        return None

    async def start(self, event: PlanEvent, now: datetime) -> None:
        return None

    async def stop(self, event: PlanEvent, now: datetime, reason: str) -> None:
        return None

    async def due(self, now: datetime) -> datetime | None:
        return None

    async def tick(self, now: datetime) -> None:
        return None
