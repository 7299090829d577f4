"""Where a DR program stands at ``now``: pure, for ``drsched programs status``.

Per VEN: the events and event hours used in the current day, week, month and
season (stored events that count: run, running or scheduled) against each
limit, and the next start at which a new event of a given length would pass
every rule (:func:`check_rules` decides, so status and the gate agree). Per
facility: its opt-outs this season against the program's budget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from scheduler.domain.dr_programs import (
    TOOK_PART,
    CountedEvent,
    Participation,
    Period,
    ProgramRules,
)
from scheduler.plans.rule_check import check_rules

#: How far ahead ``next_allowed_start`` looks.
HORIZON_DAYS = 400


@dataclass(frozen=True)
class PeriodUse:
    period: Period
    label: str
    events: int
    hours: float
    max_events: int | None
    max_hours: float | None

    @property
    def events_left(self) -> int | None:
        return None if self.max_events is None else max(0, self.max_events - self.events)

    @property
    def hours_left(self) -> float | None:
        return None if self.max_hours is None else max(0.0, self.max_hours - self.hours)


@dataclass(frozen=True)
class FacilityBudget:
    facility: str
    events: int
    opt_outs: int
    hours: float
    opted_out_hours: float
    max_count: int | None
    max_share: float | None

    @property
    def share(self) -> float:
        return self.opted_out_hours / self.hours if self.hours else 0.0

    @property
    def over_budget(self) -> bool:
        over_count = self.max_count is not None and self.opt_outs > self.max_count
        over_share = self.max_share is not None and self.share > self.max_share + 1e-9
        return over_count or over_share


def period_use(
    rules: ProgramRules, events: Sequence[CountedEvent], ven: str, now: datetime
) -> list[PeriodUse]:
    """The current day, week, month and season on ``ven``: what is used, what is left."""
    local_now = now.astimezone(rules.tz)
    mine = [e for e in events if ven in e.ven_ids]
    used = []
    for period in Period:
        label = rules.period_of(period, local_now)
        inside = [e for e in mine if rules.period_of(period, e.start.astimezone(rules.tz)) == label]
        used.append(
            PeriodUse(
                period,
                label,
                len(inside),
                sum(e.hours for e in inside),
                rules.max_events.get(period),
                rules.max_hours.get(period),
            )
        )
    return used


def next_allowed_start(
    rules: ProgramRules,
    events: Sequence[CountedEvent],
    ven: str,
    now: datetime,
    duration: timedelta,
) -> datetime | None:
    """The earliest start ≥ ``now`` of a ``duration`` event on ``ven`` that breaks no rule.

    Candidates per local day are the allowed hours' start and the moments an
    existing event (plus the rest) ends: a limit or rest only ever ends there.
    """
    mine = [e for e in events if ven in e.ven_ids]
    ends = [e.end + (rules.min_rest or timedelta(0)) for e in mine]
    day = now.astimezone(rules.tz).date()
    opening = rules.hours[0] if rules.hours else time(0)
    for offset in range(HORIZON_DAYS):
        current = day + timedelta(days=offset)
        first = datetime.combine(current, opening, rules.tz)
        candidates = {first, *(t for t in ends if t.astimezone(rules.tz).date() == current)}
        if offset == 0:
            candidates.add(now)
        for start in sorted(c for c in candidates if c >= now):
            trial = CountedEvent(
                "(next)", rules.program_id, frozenset({ven}), start, start + duration
            )
            if not check_rules([trial], {rules.program_id: rules}, mine):
                return start.astimezone(now.tzinfo)
    return None


def facility_budgets(
    rules: ProgramRules, participations: Sequence[Participation], now: datetime
) -> list[FacilityBudget]:
    """Each facility's opt-outs in the season holding ``now``, against the budget."""
    season = rules.season_of(now.astimezone(rules.tz).date())
    by_facility: dict[str, list[Participation]] = defaultdict(list)
    for item in participations:
        in_season = rules.season_of(item.event_start.astimezone(rules.tz).date()) == season
        if item.state in TOOK_PART and in_season:
            by_facility[item.facility].append(item)
    budget = rules.opt_out_budget
    return [
        FacilityBudget(
            facility,
            len(items),
            sum(1 for i in items if i.state == "opted_out"),
            sum(i.hours for i in items),
            sum(i.opted_out_hours for i in items),
            budget.count if budget else None,
            budget.share if budget else None,
        )
        for facility, items in sorted(by_facility.items())
    ]
