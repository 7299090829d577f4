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
#: A requestID the DR API, URLs and our logs can carry safely (DR spec POST /requests).
ID_CHARS = "A-Za-z0-9._-"
ID_PATTERN = f"^[{ID_CHARS}]{{1,{ID_MAX}}}$"
PROGRAM_ID_PATTERN = f"^[{ID_CHARS}]{{1,{PROGRAM_ID_MAX}}}$"

Number = Annotated[float, Strict()]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Shape(BaseModel):
    # Numbers written where text is expected (``ven: 101``) are read as text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


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
        description="requestID: 1–64 of A-Z a-z 0-9 . _ -",
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
        description="Events get ids '<id>-YYYYMMDD'; 1–55 of A-Z a-z 0-9 . _ -",
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


class PlanHead(_Shape):
    """The top level; ``defaults``, ``events`` and ``programs`` are checked item by item."""

    timezone: str | None = Field(default=None, description="IANA zone of local times.")
    dst: DstPolicy = DstPolicy()
    defaults: Any = None
    events: Any = None
    programs: Any = None


class PlanFile(PlanHead):
    """A whole plan file (for the JSON Schema)."""

    defaults: Defaults | None = None
    events: list[EventShape] = Field(default_factory=list)
    programs: list[ProgramShape] = Field(default_factory=list)
