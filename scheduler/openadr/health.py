"""``/healthz``'s ``openadr`` check: failing while the VEN cannot reach or register with its VTN."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler.errors import DrschedError
from scheduler.health import Check
from scheduler.store.openadr import VenState, load_ven


class VenUnhealthy(DrschedError):
    pass


def ven_check(engine: Engine, vtn_url: str, leading: Callable[[], bool]) -> Check:
    """Reads the VEN's row (the leader writes it on every contact); a standby is not judged."""

    def read() -> VenState | None:
        with Session(engine) as session:
            return load_ven(session, vtn_url)

    async def check() -> str:
        if not leading():
            return "standby: the leader polls the VTN"
        state = await asyncio.to_thread(read)
        if state is None or state.state != "registered":
            error = state.last_error if state else None
            raise VenUnhealthy(f"not registered with {vtn_url}: {error or 'starting'}")
        if state.last_error:
            raise VenUnhealthy(
                f"registered as {state.ven_id}, last poll failed: {state.last_error}"
            )
        return f"registered as {state.ven_id}, last poll {state.last_poll_at:%H:%M:%S}Z"

    return check
