"""What the BECON client returns: frozen values the HVAC engine can use as they are.

Facilities are named by :class:`~scheduler.domain.hvac.FacilityKey` and a
state reads into :class:`~scheduler.domain.hvac.FacilityState` through
:func:`facility_state`; the JSON shapes they come from are "Contract" and
live in :mod:`scheduler.clients.becon.contract`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from pydantic import SecretStr

from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import Control, FacilityKey, FacilityState, Mode

#: ``success`` and ``fail`` are the vendor's per-facility answers; ``refused`` is a
#: ``fail`` whose reason no retry cures (:data:`~.contract.PERMANENT_REASONS`);
#: ``unknown`` means the call failed or its answer left the facility out: read its state.
ControlOutcome = Literal["success", "fail", "refused", "unknown"]


@dataclass(frozen=True)
class Site:
    code: str
    name: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Gateway:
    site: str
    gateway_id: str
    name: str | None = None
    connected: bool | None = None


@dataclass(frozen=True)
class Facility:
    """A facility as the inventory lists it (no state)."""

    key: FacilityKey
    name: str | None = None

    @property
    def facility_id(self) -> str:
        return self.key.facility_id

    @property
    def facility_type(self) -> str:
        return self.key.facility_type


@dataclass(frozen=True)
class FacilityReading:
    """A facility's state as BECON reported it, read tolerantly.

    ``power`` and ``mode`` keep the vendor's words (an unknown mode is not
    lost); :meth:`to_domain` gives the pure core's :class:`FacilityState`.
    Temperatures are in ``unit``.
    """

    key: FacilityKey
    power: str | None
    mode: str | None
    set_temp: float | None
    unit: TempUnit | None
    set_temp_range: tuple[float, float] | None = None
    room_temp: float | None = None
    message_id: str | None = field(default=None, compare=False)

    @property
    def power_on(self) -> bool:
        return self.power == "on"

    @property
    def has_setpoint(self) -> bool:
        return self.set_temp is not None and self.unit is not None

    def to_domain(self) -> FacilityState:
        return facility_state(self)


def _mode(text: str | None) -> Mode | None:
    try:
        return None if text is None else Mode(text)
    except ValueError:
        return None


def facility_state(reading: FacilityReading) -> FacilityState:
    """The pure core's view of a reading: power as a flag, an unknown mode as None.

    An inverted ``setTempRange`` (which ``FacilityState`` refuses) is dropped:
    the facility is then controlled within the event bounds alone, and BECON
    still refuses a value outside its real range for that facility only.
    """
    low_high = reading.set_temp_range
    if low_high is not None and low_high[0] > low_high[1]:
        low_high = None
    return FacilityState(
        facility_id=reading.key.facility_id,
        facility_type=reading.key.facility_type,
        power_on=reading.power_on,
        mode=_mode(reading.mode),
        set_temp=reading.set_temp,
        unit=reading.unit,
        set_temp_range=low_high,
        room_temp=reading.room_temp,
    )


@dataclass(frozen=True)
class ControlResult:
    """What became of one control: a value, since a batch may partly fail (Contract).

    ``reason`` is the vendor's (``out_of_range``, ``offline``). A call that
    failed as a whole raises instead (:meth:`BeconClient.send_batch`); HVAC
    control's fan-out turns that into an answer per control.
    """

    control: Control
    outcome: ControlOutcome
    reason: str | None = None
    message_id: str | None = field(default=None, compare=False)

    @property
    def key(self) -> FacilityKey:
        return self.control.key

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


@dataclass(frozen=True)
class TokenGrant:
    """An access token and how long the vendor says it lives."""

    token: SecretStr
    expires_in: timedelta

    def __repr__(self) -> str:
        return f"TokenGrant(token=***, expires_in={self.expires_in})"


__all__ = [
    "ControlOutcome",
    "ControlResult",
    "Facility",
    "FacilityReading",
    "Gateway",
    "Site",
    "TokenGrant",
    "facility_state",
]
