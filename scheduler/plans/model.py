"""The shape of a plan file as frozen pydantic models: keys, types, enums, required keys.

These models say what may be written where (an unknown key anywhere is an
error) and generate the JSON Schema editors use. The rules that need more
than a type — times in a zone, DST, temperature ranges, recurrence, unique
ids, overlaps — are checked by the other modules of this package, which
know the position of every value.

``vtn_id``, ``targets`` and ``signals`` are optional here because they may
come from ``defaults``; their presence is checked after the merge.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

#: The longest requestID we write; program ids leave room for ``-YYYYMMDD``.
ID_MAX = 64
PROGRAM_ID_MAX = ID_MAX - len("-YYYYMMDD")
#: A requestID the DR API, URLs and our logs can carry safely (DR spec POST /requests):
#: also one URL path segment, so never ``.`` or ``..`` (dot segments URLs remove).
ID_CHARS = "A-Za-z0-9._-"
NOT_DOTS = r"(?!\.\.?$)"
ID_PATTERN = f"^{NOT_DOTS}[{ID_CHARS}]{{1,{ID_MAX}}}$"
PROGRAM_ID_PATTERN = f"^{NOT_DOTS}[{ID_CHARS}]{{1,{PROGRAM_ID_MAX}}}$"

Number = Annotated[float, Strict()]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Shape(BaseModel):
    # Numbers written where text is expected (``ven: 101``) are read as text.
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, defer_build=True
    )


class DstPolicy(_Shape):
    """How a local time the clocks skip (gap) or repeat (fold) is resolved."""

    gap: Literal["error", "shift_forward"] = Field(
        default="error",
        description="A local time that does not exist (spring forward): "
        "'error', or 'shift_forward' to the instant the clocks change.",
    )
    fold: Literal["error", "earlier", "later"] = Field(
        default="error",
        description="A local time that happens twice (fall back): "
        "'error', or the 'earlier' or 'later' of the two instants.",
    )


class Target(_Shape):
    ven: NonEmpty = Field(description="VEN id (eventTargets[].venID).")
    resources: list[NonEmpty] | None = Field(
        default=None, description="Resource ids of the VEN (eventTargets[].resourceIDs)."
    )


class SignalShape(_Shape):
    id: NonEmpty | None = Field(
        default=None, description="signalID; defaults to the signal's 1-based position."
    )
    name: Literal["SIMPLE", "LOAD_CONTROL"] = Field(description="signalName.")
    type: Literal["level", "x-loadControlLevelOffset", "x-LoadControlLevelOffset"] | None = Field(
        default=None, description="signalType; defaults from name."
    )
    targets: list[NonEmpty] = Field(
        min_length=1, description="Device classes, e.g. x-DEVICE_AIR_CONDITIONER."
    )
    min_temp: Number | None = Field(default=None, description="LOAD_CONTROL: 64–86 °F.")
    max_temp: Number | None = Field(default=None, description="LOAD_CONTROL: 64–86 °F.")
    temp_offset: Number | None = Field(
        default=None, description="LOAD_CONTROL: 4–16 °F (a difference)."
    )
    unit: Literal["F", "C"] | None = Field(default=None, description="F (default) or C.")


class PreConditionShape(_Shape):
    """Pre-cool (pre-heat) before the window: ``{duration: 1h, offset: 2F}``."""

    duration: str = Field(description="How long before the start: 15m to 6h.")
    offset: str = Field(
        description="How much cooler (warmer when heating) than the original: 2F, 1C "
        "(a difference, at most 10 °F / 5.5 °C); never past min_temp (max_temp)."
    )


class RestoreShape(_Shape):
    """How setpoints come back after the window: ``{stagger: 10m, ramp: 1F/5m}``."""

    stagger: str | None = Field(
        default=None, description="Spread the restores over this long (0s to 2h)."
    )
    ramp: str | None = Field(
        default=None,
        description="Walk each unit back in steps: STEP/EVERY, e.g. 1F/5m, 0.5C/2m "
        "(step up to 10 °F / 5.5 °C, every 30s to 1h).",
    )


class _Content(_Shape):
    """What an event asks of whom: the keys ``defaults`` may supply."""

    name: str | None = Field(default=None, description="Human name of the event.")
    program: NonEmpty | None = Field(
        default=None, description="The DR program (dr_programs[].id) whose rules the event obeys."
    )
    vtn_id: NonEmpty | None = Field(default=None, description="VTN id (vtnID).")
    targets: list[Target] | None = Field(default=None, min_length=1)
    signals: list[SignalShape] | None = Field(default=None, min_length=1)
    pre_condition: PreConditionShape | None = Field(
        default=None, description="Pre-condition HVAC units before the window."
    )
    randomize_start: str | None = Field(
        default=None,
        description="Delay each facility's start by its own amount in [0, D): 10m "
        "(at most 1h, shorter than the window).",
    )
    restore: RestoreShape | None = Field(
        default=None, description="Stagger and ramp the restores after the window."
    )


class Defaults(_Content):
    """Merged into every event and program; their own keys win, lists are replaced."""


class EventShape(_Content):
    id: str = Field(
        description="requestID: 1–64 of A-Z a-z 0-9 . _ - (not . or ..)",
        json_schema_extra={"pattern": ID_PATTERN},
    )
    start: str = Field(
        description="Local 'YYYY-MM-DD HH:MM' in the plan's timezone, "
        "or an ISO 8601 instant with offset (2026-07-15T18:00:00Z)."
    )
    end: str = Field(description="Like start; must be after it.")
    dst: DstPolicy | None = None


class ProgramShape(_Content):
    id: str = Field(
        description="Events get ids '<id>-YYYYMMDD'; 1–55 of A-Z a-z 0-9 . _ - (not . or ..)",
        json_schema_extra={"pattern": PROGRAM_ID_PATTERN},
    )
    rrule: str = Field(description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
    from_: str = Field(alias="from", description="First date, YYYY-MM-DD.")
    until: str = Field(description="Last date, YYYY-MM-DD (inclusive).")
    start_time: str = Field(description="Local start time, HH:MM.")
    duration: str = Field(description="Length of each event: 90m, 3h, 1h30m.")
    skip_dates: list[str] = Field(default_factory=list, description="Dates to leave out.")
    skip_holidays: str | None = Field(
        default=None, description="Leave out public holidays: country code (US) or US-CA."
    )
    dst: DstPolicy | None = None


Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
Count = Annotated[int, Strict(), Field(ge=0)]


class DateRange(_Shape):
    from_: str = Field(alias="from", description="First day, MM-DD.")
    until: str = Field(description="Last day, MM-DD (inclusive); before from wraps the year.")


class ClockRange(_Shape):
    from_: str = Field(alias="from", description="Earliest local start, HH:MM.")
    until: str = Field(description="Latest local end, HH:MM.")


class EventLimits(_Shape):
    day: Count | None = None
    week: Count | None = Field(default=None, description="ISO week, Monday to Sunday.")
    month: Count | None = None
    season: Count | None = None


class HourLimits(_Shape):
    month: Annotated[float, Strict(), Field(ge=0)] | None = None
    season: Annotated[float, Strict(), Field(ge=0)] | None = None


class OptOutBudgetShape(_Shape):
    count: Count | None = Field(default=None, description="Opt-outs per facility a season.")
    share: Annotated[float, Strict(), Field(ge=0, le=1)] | None = Field(
        default=None, description="Share of the facility's event hours, 0–1 (0.35 = 35 %)."
    )


class DrProgramShape(_Shape):
    """A DR program's rules; events name it with ``program:``. Every rule is optional."""

    id: str = Field(
        description="Program id: 1–64 of A-Z a-z 0-9 . _ -",
        json_schema_extra={"pattern": ID_PATTERN},
    )
    name: str | None = None
    timezone: str | None = Field(
        default=None, description="IANA zone of days and hours (default: the plan's timezone)."
    )
    season: DateRange | None = Field(default=None, description="Yearly season; may wrap.")
    days: list[Weekday] | None = Field(default=None, min_length=1, description="Allowed days.")
    hours: ClockRange | None = Field(default=None, description="Allowed local hours.")
    exclude_holidays: str | None = Field(
        default=None, description="No events on public holidays of a country (US) or US-CA."
    )
    max_duration: str | None = Field(default=None, description="Longest event: 4h.")
    max_pre_condition: str | None = Field(
        default=None, description="Longest pre_condition of an event: 1h; 0s forbids it."
    )
    min_rest: str | None = Field(
        default=None, description="Least time between two events on the same VEN: 20h."
    )
    max_events: EventLimits | None = Field(default=None, description="Events per VEN per period.")
    max_event_hours: HourLimits | None = Field(
        default=None, description="Event hours per VEN per month / season."
    )
    opt_out_budget: OptOutBudgetShape | None = Field(
        default=None, description="Opt-outs a facility may make in a season."
    )


class PlanHead(_Shape):
    """The top level; ``defaults``, ``events``, ``programs`` and ``dr_programs`` are checked
    item by item."""

    timezone: str | None = Field(default=None, description="IANA zone of local times.")
    dst: DstPolicy = DstPolicy()
    defaults: Any = None
    events: Any = None
    programs: Any = None
    dr_programs: Any = None


class PlanFile(PlanHead):
    """A whole plan file (for the JSON Schema)."""

    defaults: Defaults | None = None
    events: list[EventShape] = Field(default_factory=list)
    programs: list[ProgramShape] = Field(default_factory=list)
    dr_programs: list[DrProgramShape] = Field(
        default_factory=list, description="DR programs with their rules (referenced by program:)."
    )
