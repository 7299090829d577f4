"""What became of each facility an event touched: one :class:`ControlRecord` per facility.

A record is written before anything is sent (DESIGN rule 2, "intent before
effect") and moves through these states::

    planned ─start─▶ intent ─PUT ok─▶ applied ─end/cancel─▶ restoring ─PUT ok─▶ restored
       │               │ └─PUT failed─▶ retrying ─(retry)─▶ intent   ├─occupant─▶ opted_out
       │               └─refused───────▶ failed                      └─refused─▶ restore_failed
       └─(no setpoint, off, fan...)────▶ skipped   applied ─occupant─▶ opted_out (respect)

(a restore refused for good: the facility was removed, or its original is now
out of its range; a refusal that may pass, ``offline``, is retried.)

Pre-conditioning (issue 15, ``pre_condition``) uses the same states from
``start − duration``: the record is claimed (held) then, its ``target`` is the
pre-conditioning setpoint and ``pre_target``/``pre_at`` keep it for the
evidence; at the window start the DR setpoint is decided from ``original``
and replaces ``target`` (:attr:`ControlRecord.preconditioning` turns false).

``planned``, ``intent``, ``applied``, ``retrying`` and ``restoring`` are open
(the controller still has work with them); the others are final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import Controlled, FacilityKey, Mode


class ControlState(StrEnum):
    PLANNED = "planned"  # decided from the prefetched state; nothing sent yet
    INTENT = "intent"  # the DR setpoint PUT is about to leave or in flight
    APPLIED = "applied"  # at the DR setpoint; read back every verify_interval
    RETRYING = "retrying"  # the PUT failed; tried again at due_at, within the window
    RESTORING = "restoring"  # the original goes back at due_at
    SKIPPED = "skipped"  # left alone (reason says why)
    FAILED = "failed"  # never applied: refused, or the window ended first
    OPTED_OUT = "opted_out"  # the occupant's change (respect): no longer controlled
    RESTORED = "restored"  # back at the original setpoint
    #: The restore was refused for good (facility removed, original now out of range): the
    #: facility may still show the DR setpoint; ``detail`` has BECON's reason (issue 10).
    RESTORE_FAILED = "restore_failed"

    @property
    def is_open(self) -> bool:
        return self in OPEN


OPEN = frozenset(
    {
        ControlState.PLANNED,
        ControlState.INTENT,
        ControlState.APPLIED,
        ControlState.RETRYING,
        ControlState.RESTORING,
    }
)
#: States in which the facility may be at a DR setpoint (or about to be): it belongs
#: to its event, and another event leaves it alone.
HELD = frozenset(OPEN - {ControlState.PLANNED})
#: Counted by ``drsched_facilities_under_control``.
UNDER_CONTROL = frozenset({ControlState.INTENT, ControlState.APPLIED, ControlState.RESTORING})


@dataclass(frozen=True)
class ControlRecord:
    """One facility in one event: its original and DR setpoints and where it stands.

    ``reason`` says why this DR setpoint (or why the facility was skipped);
    ``detail`` what happened last (a failure, an opt-out, a restore).
    ``due_at`` is when the controller next has work with it (a verify, a
    retry, a restore slot); None while a PUT is in flight or when final.
    """

    event_id: str
    key: FacilityKey
    state: ControlState
    window_end: datetime
    created_at: datetime
    updated_at: datetime
    reason: str = ""
    detail: str = ""
    unit: TempUnit | None = None
    mode: Mode | None = None
    original: float | None = None
    target: float | None = None
    restored: float | None = None
    due_at: datetime | None = None
    attempts: int = 0
    restore_attempts: int = 0
    applied_at: datetime | None = None
    restored_at: datetime | None = None
    #: The pre-conditioning setpoint sent before the window, and when (None: none).
    pre_target: float | None = None
    pre_at: datetime | None = None

    @property
    def ident(self) -> tuple[str, FacilityKey]:
        return (self.event_id, self.key)

    def controlled(self) -> Controlled:
        """The pure core's view (for verdicts and restore decisions); only for a change."""
        if self.original is None or self.target is None or self.unit is None or self.mode is None:
            raise ValueError(f"facility {self.key} in {self.event_id}: not a setpoint change")
        return Controlled(self.key, self.original, self.target, self.unit, self.mode)

    @property
    def preconditioning(self) -> bool:
        """Held at its pre-conditioning setpoint: the DR setpoint has not been sent yet."""
        return self.pre_target is not None and self.target == self.pre_target

    def is_due(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at <= now
