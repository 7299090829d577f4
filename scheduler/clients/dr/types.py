"""What the DR client sends and returns: the POST body and the results of its calls.

Field names and units are the DR spec's facts (camelCase, UTC epoch
milliseconds); the project's assumptions about the API (the "Contract") live
in :mod:`scheduler.clients.dr.contract`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from scheduler.clock import to_epoch_ms
from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.lifecycle import Status


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _signal_body(signal: Signal) -> dict[str, Any]:
    body: dict[str, Any] = {
        "signalID": signal.signal_id,
        "signalName": signal.name,
        "signalType": signal.type,
        "targets": list(signal.targets),
    }
    for key, value in (
        ("minTemp", signal.min_temp),
        ("maxTemp", signal.max_temp),
        ("tempOffset", signal.temp_offset),
    ):
        if value is not None:
            body[key] = _number(value)
    if signal.unit is not None:
        body["unit"] = signal.unit.value
    return body


def request_body(event: PlanEvent, request_id: str) -> dict[str, Any]:
    """The POST body: camelCase, UTC epoch milliseconds, valid JSON (unlike the reference)."""
    body: dict[str, Any] = {"requestID": request_id}
    if event.name:
        body["name"] = event.name
    body["eventSignals"] = [_signal_body(s) for s in event.signals]
    body["eventTargets"] = [
        {"venID": t.ven_id, **({"resourceIDs": list(t.resource_ids)} if t.resource_ids else {})}
        for t in event.targets
    ]
    body["vtnID"] = event.vtn_id
    body["startTs"] = to_epoch_ms(event.start)
    body["endTs"] = to_epoch_ms(event.end)
    return body


@dataclass(frozen=True)
class DrRequest:
    """A DR request as GET returns it. ``status`` is None for a value we do not know."""

    request_id: str
    status: Status | None
    raw_status: str | None
    start: datetime | None
    end: datetime | None
    insert_ts: datetime | None
    vtn_id: str | None = None
    name: str | None = None
    targets: tuple[EventTarget, ...] = ()
    signals: tuple[Signal, ...] = ()
    message_id: str | None = field(default=None, compare=False)

    @property
    def status_label(self) -> str:
        """The status for people: its name, or ``unknown``."""
        return self.status.value if self.status is not None else "unknown"


@dataclass(frozen=True)
class CreateResult:
    """``created``: our POST was accepted; ``existing``: a GET showed it already there."""

    request_id: str
    outcome: Literal["created", "existing"]
    message_id: str | None
    request: DrRequest | None = None


@dataclass(frozen=True)
class DeleteResult:
    """The request is gone; ``already_gone`` when the service answered 404 (Contract)."""

    request_id: str
    already_gone: bool
    message_id: str | None
