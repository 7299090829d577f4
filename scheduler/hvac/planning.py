"""Records from prefetched states, PUT batches from records, restore slots (pure).

- :func:`plan_records`: each mapped facility's DR setpoint
  (:func:`~scheduler.domain.setpoints.decide_setpoint`) as a ``planned``
  record, or a ``skipped`` one with the reason; a facility another event
  already holds is skipped ("under control of event X"), so an original
  setpoint is never someone else's DR setpoint.
- :func:`apply_batches`: the PUTs for the planned records (one per gateway
  and type, ≤ 100 controls: :func:`~scheduler.domain.hvac.plan_control_batches`).
- :func:`restore_slots`: when each record gets its original back
  (:func:`~scheduler.domain.hvac.restore_schedule`, deterministic order).
- :func:`one_holder_each`: what to change so that no facility has two
  holders (records a database from before migration 0003 may hold).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scheduler.domain.control_records import HELD, ControlRecord, ControlState
from scheduler.domain.events import Signal
from scheduler.domain.hvac import (
    DEFAULT_RESTORE_SPACING,
    AutoMode,
    Batch,
    Control,
    FacilityKey,
    FacilityState,
    OverridePolicy,
    plan_control_batches,
    restore_schedule,
)
from scheduler.domain.setpoints import Change, Skip, control_envelope, decide_setpoint
from scheduler.domain.shaping import PreCondition, Ramp, precondition_setpoint, recovery_schedule


@dataclass(frozen=True)
class Settings:
    """The ``hvac.*`` and ``becon.max_concurrency`` values the controller works with."""

    verify_interval: timedelta = timedelta(minutes=5)
    restore_stagger: timedelta = timedelta(minutes=10)
    #: ``hvac.randomize_start``: the default spread of the facilities' starts (issue 15).
    randomize_start: timedelta = timedelta(0)
    #: ``hvac.restore_ramp``: the default ramp of the restores (None: one step).
    ramp: Ramp | None = None
    override: OverridePolicy = "respect"
    auto_mode: AutoMode = "skip"
    max_concurrency: int = 16
    #: Restore slots closer than this are merged (fewer, fuller PUTs).
    restore_spacing: timedelta = DEFAULT_RESTORE_SPACING
    #: A failed PUT is tried again after this, doubling up to ``retry_cap``.
    retry_base: timedelta = timedelta(seconds=5)
    retry_cap: timedelta = timedelta(minutes=1)

    def next_verify(self, now: datetime, window_end: datetime) -> datetime:
        """The next read-back; the window's end is always one (control ends there)."""
        return min(now + self.verify_interval, window_end)

    def backoff(self, attempts: int) -> timedelta:
        """The pause before attempt ``attempts + 1`` (5 s, 10 s, 20 s... capped)."""
        exponent = min(max(attempts - 1, 0), 16)
        grown: timedelta = self.retry_base * (1 << exponent)
        return min(self.retry_cap, grown)


def plan_records(
    event_id: str,
    signal: Signal,
    states: Iterable[tuple[FacilityKey, FacilityState]],
    *,
    held_by: Mapping[FacilityKey, str],
    auto_mode: AutoMode,
    now: datetime,
    window_end: datetime,
) -> list[ControlRecord]:
    """One record per facility, in facility order: ``planned`` with its DR setpoint, or skipped."""
    records = []
    for key, state in sorted(states, key=lambda pair: pair[0]):
        base = ControlRecord(
            event_id,
            key,
            ControlState.SKIPPED,
            window_end=window_end,
            created_at=now,
            updated_at=now,
            unit=state.unit,
            mode=state.mode,
            original=state.set_temp,
        )
        owner = held_by.get(key)
        if owner is not None and owner != event_id:
            records.append(replace(base, reason=f"under control of event {owner}"))
            continue
        decision = decide_setpoint(signal, state, auto_mode=auto_mode)
        if isinstance(decision, Change):
            records.append(planned(base, decision, due_at=window_end))
        else:
            records.append(replace(base, reason=decision.reason))
    return records


def pre_condition_of(
    signal: Signal,
    state: FacilityState,
    record: ControlRecord,
    pre: PreCondition,
    settings: Settings,
) -> Change | Skip:
    """The facility's pre-conditioning setpoint from its original (issue 15), or why none.

    Inside the event's bounds clamped into the facility's range (the same
    envelope as its DR setpoint), never more than ``pre.offset`` from the
    original: :func:`~scheduler.domain.shaping.precondition_setpoint`.
    """
    if record.original is None:
        return Skip("pre-condition: no setpoint")
    envelope = control_envelope(signal, state, auto_mode=settings.auto_mode)
    if isinstance(envelope, Skip):
        return Skip(f"pre-condition: {envelope.reason}")
    return precondition_setpoint(envelope, record.original, pre)


def planned(record: ControlRecord, change: Change, *, due_at: datetime | None) -> ControlRecord:
    """``record`` set to move its facility as ``change`` says."""
    return replace(
        record,
        state=ControlState.PLANNED,
        reason=change.reason,
        unit=change.unit,
        original=change.original,
        target=change.target,
        due_at=due_at,
    )


def apply_control(record: ControlRecord) -> Control:
    """The control that moves the facility to its DR setpoint."""
    return record.controlled().apply()


def restore_control(record: ControlRecord) -> Control:
    """The control that puts the original setpoint back."""
    return record.controlled().restore()


def apply_batches(records: Iterable[ControlRecord]) -> list[Batch]:
    """The PUTs that move ``records`` (those with a DR setpoint) to it."""
    return plan_control_batches(apply_control(r) for r in records if r.target is not None)


def restore_slots(
    records: Sequence[ControlRecord],
    base: datetime,
    settings: Settings,
    stagger: timedelta | None = None,
) -> dict[tuple[str, FacilityKey], datetime]:
    """When each record's original comes back: from ``base`` to ``base + stagger``.

    Per event, facilities in (site, gateway, type, id) order, cut into equal
    contiguous slices (see :func:`~scheduler.domain.hvac.restore_schedule`).
    ``stagger`` is the event's ``restore.stagger``, else ``hvac.restore_stagger``.
    """
    spread = settings.restore_stagger if stagger is None else stagger
    slots: dict[tuple[str, FacilityKey], datetime] = {}
    by_event: dict[str, list[FacilityKey]] = {}
    for record in records:
        by_event.setdefault(record.event_id, []).append(record.key)
    for event_id, keys in by_event.items():
        schedule = restore_schedule(keys, base, spread, min_spacing=settings.restore_spacing)
        slots.update({(event_id, key): at for key, at in schedule})
    return slots


def overdue_slots(
    records: Sequence[ControlRecord],
    now: datetime,
    settings: Settings,
    stagger: timedelta | None = None,
) -> dict[tuple[str, FacilityKey], datetime]:
    """Restore instants after a restart: the overdue spread from ``now`` over the stagger.

    A live record of an event that is over is overdue; a restore keeps its
    slot if it is still ahead; the overdue get what was left of the stagger
    that began at the window's end (:func:`~scheduler.domain.shaping.recovery_schedule`).
    """
    spread = settings.restore_stagger if stagger is None else stagger
    slots: dict[tuple[str, FacilityKey], datetime] = {}
    by_event: dict[str, list[tuple[FacilityKey, datetime]]] = {}
    ends: dict[str, datetime] = {}
    for record in records:
        # A restore not yet scheduled was due at the window's end (or now, if sooner).
        due = (
            (record.due_at or now)
            if record.state is ControlState.RESTORING
            else min(record.window_end, now)
        )
        by_event.setdefault(record.event_id, []).append((record.key, due))
        began = _schedule_began(record)
        ends[record.event_id] = max(began, ends.get(record.event_id, began))
    for event_id, pairs in by_event.items():
        schedule = recovery_schedule(
            pairs,
            now,
            spread,
            min_spacing=settings.restore_spacing,
            until=ends[event_id] + spread,
        )
        slots.update({(event_id, key): at for key, at in schedule})
    return slots


def _schedule_began(record: ControlRecord) -> datetime:
    """When the restore schedule a record belongs to began: the window's end, or earlier
    when the restores started before it (a cancel: seed 7661), as the record last moved.
    """
    if record.state is ControlState.RESTORING:
        return min(record.window_end, record.updated_at)
    return record.window_end


def one_holder_each(records: Iterable[ControlRecord], now: datetime) -> list[ControlRecord]:
    """The records to change so that each facility has at most one holder.

    Two events could both hold a facility before the claim was atomic
    (issue 10 bug 4). The first holder keeps it, with the DR setpoint that
    was applied last as its target (what the facility most likely shows),
    so that its restore puts the first original back; every other holder is
    ``skipped``, saying which event restores the facility. Migration 0003
    applies the same rule to the database.
    """
    by_key: dict[FacilityKey, list[ControlRecord]] = {}
    for record in records:
        if record.state in HELD:
            by_key.setdefault(record.key, []).append(record)
    changed: list[ControlRecord] = []
    for holds in by_key.values():
        if len(holds) < 2:
            continue
        first, *others = sorted(holds, key=lambda r: (r.created_at, r.event_id))
        last = max(holds, key=lambda r: (r.applied_at or r.created_at, r.created_at, r.event_id))
        if (
            last is not first
            and last.unit == first.unit
            and last.target not in (None, first.original)
        ):
            first = replace(first, target=last.target, updated_at=now)
        changed.append(first)
        changed += [
            replace(
                other,
                state=ControlState.SKIPPED,
                due_at=None,
                updated_at=now,
                detail=f"closed: event {first.event_id} also held the facility; it restores it",
            )
            for other in others
        ]
    return changed
