"""Every plan rule has a failing example: the exact message and its line:col.

Bodies follow :data:`helpers.HEADER` (6 lines), so they start on line 7. The
one-off event ``EVENT`` fills lines 7-10; a key added after it is on line 11,
indented 4 (column 5).
"""

from __future__ import annotations

import pytest

from tests.support.plans import HEADER, doc, events, problems


class Bare(str):
    """A whole document: the header is not added (line numbers start at 1)."""


EVENT = """\
events:
  - id: e1
    start: 2026-07-15 14:00
    end: 2026-07-15 15:00
"""

PROGRAM = """\
programs:
  - id: p1
    rrule: FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
    from: 2026-06-01
    until: 2026-06-30
    start_time: "15:00"
    duration: 3h
"""


def signal(line: str) -> str:
    """EVENT with its own signal list; the signal mapping is on line 12, keys from column 9."""
    return (
        EVENT
        + "    signals:\n      - name: LOAD_CONTROL\n        targets: [x-DEVICE_AIR_CONDITIONER]\n"
        + line
    )


# (case, body after the header, every problem expected)
CASES: list[tuple[str, str, list[str]]] = [
    # --- unknown keys, at every level -------------------------------------------------
    (
        "unknown top-level key",
        "timezon: UTC\n",
        ["7:1: unknown key 'timezon' (did you mean 'timezone'?)"],
    ),
    (
        "unknown event key",
        EVENT + "    nme: Peak\n",
        ["11:5: unknown key 'nme' (did you mean 'name'?)"],
    ),
    (
        "unknown target key",
        EVENT + "    targets: [{ven: A, resource: [R]}]\n",
        ["11:24: unknown key 'resource' (did you mean 'resources'?)"],
    ),
    (
        "unknown signal key",
        signal("        max_tmp: 80\n"),
        ["14:9: unknown key 'max_tmp' (did you mean 'max_temp'?)"],
    ),
    (
        "unknown program key",
        PROGRAM + "    skip_holiday: US\n",
        ["14:5: unknown key 'skip_holiday' (did you mean 'skip_holidays'?)"],
    ),
    ("unknown dst key", "dst: {gaps: error}\n", ["7:7: unknown key 'gaps' (did you mean 'gap'?)"]),
    (
        "event key in defaults",
        Bare("defaults:\n  vtn_id: v\n  start: 2026-07-15 14:00\n"),
        [
            "3:3: unknown key 'start' (known: name, pre_condition, program, randomize_start, "
            "restore, signals, targets, vtn_id)"
        ],
    ),
    (
        "python name of a key",
        PROGRAM.replace("from:", "from_:"),
        ["8:5: missing required key 'from'", "10:5: unknown key 'from_' (did you mean 'from'?)"],
    ),
    # --- structure ----------------------------------------------------------------------
    (
        "events not a list",
        "events: {id: e1}\n",
        ["7:9: events must be a list (each item starts with '- ')"],
    ),
    ("event not a mapping", "events: [e1]\n", ["7:10: event at line 7 must be a mapping of keys"]),
    (
        "missing id",
        "events:\n  - start: 2026-07-15 14:00\n    end: 2026-07-15 15:00\n",
        ["8:5: missing required key 'id'"],
    ),
    (
        "missing end",
        "events:\n  - id: e1\n    start: 2026-07-15 14:00\n",
        ["8:5: missing required key 'end'"],
    ),
    ("wrong type", EVENT + "    name: [Peak]\n", ["11:11: name: must be text, got a list"]),
    # --- ids -----------------------------------------------------------------------------
    (
        "id with a space",
        EVENT.replace("id: e1", "id: heat wave"),
        ["8:9: id 'heat wave' is not a valid id: use 1–64 of A-Z a-z 0-9 . _ - (not . or ..)"],
    ),
    (
        "id too long",
        EVENT.replace("id: e1", "id: " + "x" * 65),
        [f"8:9: id '{'x' * 65}' is not a valid id: use 1–64 of A-Z a-z 0-9 . _ - (not . or ..)"],
    ),
    (
        "empty id",
        EVENT.replace("id: e1", "id: ''"),
        ["8:9: id '' is not a valid id: use 1–64 of A-Z a-z 0-9 . _ - (not . or ..)"],
    ),
    (
        "program id too long for its suffix",
        PROGRAM.replace("id: p1", "id: " + "p" * 56),
        [f"8:9: id '{'p' * 56}' is not a valid id: use 1–55 of A-Z a-z 0-9 . _ - (not . or ..)"],
    ),
    (
        "duplicate id",
        EVENT + "  - id: e1\n    start: 2026-07-16 14:00\n    end: 2026-07-16 15:00\n",
        ["11:5: duplicate event id 'e1' (also at plan.yaml:8:5)"],
    ),
    (
        "event id equal to a program's",
        PROGRAM + "events:\n  - id: p1-20260601\n"
        "    start: 2026-06-02 14:00\n    end: 2026-06-02 15:00\n",
        ["15:5: duplicate event id 'p1-20260601' (also at plan.yaml:8:5)"],
    ),
    # --- times ---------------------------------------------------------------------------
    (
        "end before start",
        EVENT.replace("end: 2026-07-15 15:00", "end: 2026-07-15 13:00"),
        ["10:10: event 'e1': end 2026-07-15 13:00 is not after start 2026-07-15 14:00"],
    ),
    (
        "end equal to start",
        EVENT.replace("end: 2026-07-15 15:00", "end: 2026-07-15T18:00Z"),
        ["10:10: event 'e1': end 2026-07-15T18:00Z is not after start 2026-07-15 14:00"],
    ),
    (
        "not a time",
        EVENT.replace("start: 2026-07-15 14:00", "start: 2026-07-15 2pm"),
        [
            "9:12: start: '2026-07-15 2pm' is not a time: write 'YYYY-MM-DD HH:MM' (local) or an "
            "ISO 8601 instant with offset"
        ],
    ),
    (
        "no such date",
        EVENT.replace("start: 2026-07-15", "start: 2026-02-30"),
        ["9:12: start: '2026-02-30 14:00' is not a valid date and time"],
    ),
    (
        "unknown zone",
        Bare(HEADER.replace("America/New_York", "America/Gotham") + EVENT),
        [
            "1:11: timezone: unknown time zone 'America/Gotham' (use an IANA name such as "
            "America/New_York or UTC)"
        ],
    ),
    # --- content ---------------------------------------------------------------------------
    (
        "missing vtn_id",
        Bare(HEADER.replace("  vtn_id: vtn01\n", "") + EVENT),
        ["7:5: missing vtn_id (give it here or in defaults)"],
    ),
    ("empty targets", EVENT + "    targets: []\n", ["11:14: targets must not be empty"]),
    (
        "target without ven",
        EVENT + "    targets: [{resources: [R]}]\n",
        ["11:15: missing required key 'ven'"],
    ),
    (
        "target with empty ven",
        EVENT + "    targets: [{ven: ''}]\n",
        ["11:21: ven: must not be empty"],
    ),
    ("no signals", EVENT + "    signals: []\n", ["11:14: signals must not be empty"]),
    ("signals not a list", EVENT + "    signals: SIMPLE\n", ["11:14: signals must be a list"]),
    # --- signals ---------------------------------------------------------------------------
    (
        "unknown signal name",
        EVENT + "    signals: [{name: SHED, targets: [T]}]\n",
        ["11:22: name: must be 'SIMPLE' or 'LOAD_CONTROL', got 'SHED'"],
    ),
    (
        "type that does not go with the name",
        EVENT + "    signals: [{name: SIMPLE, type: x-loadControlLevelOffset, targets: [T]}]\n",
        [
            "11:36: signal type 'x-loadControlLevelOffset' does not go with SIMPLE (use 'level', "
            "or leave type out)"
        ],
    ),
    (
        "empty signal targets",
        EVENT + "    signals: [{name: SIMPLE, targets: []}]\n",
        ["11:39: targets: must not be empty"],
    ),
    (
        "signal without targets",
        EVENT + "    signals: [{name: SIMPLE}]\n",
        ["11:15: missing required key 'targets'"],
    ),
    (
        "duplicate signal id",
        EVENT + "    signals: [{id: s, name: SIMPLE, targets: [T]},"
        " {id: s, name: SIMPLE, targets: [U]}]\n",
        ["11:57: duplicate signal id 's' (also signal 1 of this event)"],
    ),
    (
        "max_temp above range",
        signal("        max_temp: 90\n"),
        ["14:19: max_temp 90 °F is outside 64–86 °F"],
    ),
    (
        "min_temp below range",
        signal("        min_temp: 63.5\n"),
        ["14:19: min_temp 63.5 °F is outside 64–86 °F"],
    ),
    (
        "°C bound converted as a temperature",
        signal("        min_temp: 17\n        unit: C\n"),
        ["14:19: min_temp 17 °C (62.6 °F) is outside 64–86 °F"],
    ),
    (
        "°C offset converted as a difference",
        signal("        temp_offset: 2\n        unit: C\n"),
        ["14:22: temp_offset 2 °C (a change of 3.6 °F) is outside 4–16 °F"],
    ),
    (
        "offset above range",
        signal("        temp_offset: 17\n"),
        ["14:22: temp_offset 17 °F is outside 4–16 °F"],
    ),
    (
        "min above max",
        signal("        min_temp: 80\n        max_temp: 70\n"),
        ["14:19: min_temp 80 is above max_temp 70"],
    ),
    ("unknown unit", signal("        unit: K\n"), ["14:15: unit: must be 'F' or 'C', got 'K'"]),
    (
        "temperature not a number",
        signal("        max_temp: hot\n"),
        ["14:19: max_temp: must be a number, got 'hot'"],
    ),
    (
        "temperature on SIMPLE",
        EVENT + "    signals: [{name: SIMPLE, targets: [T], max_temp: 80}]\n",
        ["11:54: max_temp only applies to LOAD_CONTROL signals, not SIMPLE"],
    ),
    # --- programs --------------------------------------------------------------------------
    (
        "bad rrule",
        PROGRAM.replace("BYDAY=MO,TU,WE,TH,FR", "BYDAY=MO,XX"),
        ["9:12: rrule: invalid rrule 'FREQ=WEEKLY;BYDAY=MO,XX': invalid 'BYDAY': MO,XX"],
    ),
    (
        "rrule not NAME=VALUE",
        PROGRAM.replace("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "weekly"),
        [
            "9:12: rrule: invalid rrule part 'weekly': write NAME=VALUE, e.g. "
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
        ],
    ),
    (
        "hourly rrule",
        PROGRAM.replace("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=HOURLY"),
        [
            "9:12: rrule: FREQ must be one of DAILY, WEEKLY, MONTHLY, YEARLY (a program has one "
            "event per date)"
        ],
    ),
    (
        "COUNT in rrule",
        PROGRAM.replace("BYDAY=MO,TU,WE,TH,FR", "COUNT=3"),
        [
            "9:12: rrule: part COUNT is not allowed in a program (allowed: FREQ, INTERVAL, BYDAY, "
            "BYMONTH, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYSETPOS, WKST; dates come from from/until, "
            "the time from start_time)"
        ],
    ),
    (
        "until before from",
        PROGRAM.replace("until: 2026-06-30", "until: 2026-05-31"),
        ["11:12: until 2026-05-31 is before from 2026-06-01"],
    ),
    (
        "from not a date",
        PROGRAM.replace("from: 2026-06-01", "from: June 1st"),
        ["10:11: from: 'June 1st' is not a date: write YYYY-MM-DD"],
    ),
    (
        "start_time not HH:MM",
        PROGRAM.replace('"15:00"', '"3pm"'),
        ["12:17: start_time: '3pm' is not a time of day: write HH:MM, e.g. \"15:00\""],
    ),
    (
        "bad duration",
        PROGRAM.replace("duration: 3h", "duration: 3 hours"),
        ["13:15: duration: invalid duration '3 hours': write it like 90s, 5m, 24h or 1h30m"],
    ),
    (
        "zero duration",
        PROGRAM.replace("duration: 3h", "duration: 0m"),
        ["13:15: duration: '0m' must be longer than zero"],
    ),
    (
        "skip date outside the range",
        PROGRAM + "    skip_dates: [2026-06-05, 2026-07-03]\n",
        ["14:30: skip_dates: 2026-07-03 is outside from 2026-06-01 .. until 2026-06-30"],
    ),
    (
        "skip date not a date",
        PROGRAM + "    skip_dates: [2026-06-31]\n",
        ["14:18: skip_dates: '2026-06-31' is not a valid date"],
    ),
    (
        "unknown holiday country",
        PROGRAM + "    skip_holidays: XX\n",
        ["14:20: skip_holidays: the holidays package has no calendar for country XX"],
    ),
    (
        "program without a zone",
        Bare(HEADER.replace("America/New_York", "~") + PROGRAM),
        [
            "12:17: program 'p1': start_time is a local time: set the top-level timezone (an IANA "
            "name) or write an instant with offset"
        ],
    ),
    # --- overlaps --------------------------------------------------------------------------
    (
        "overlap on one VEN",
        EVENT + "  - id: e2\n    start: 2026-07-15 14:30\n    end: 2026-07-15 16:00\n",
        [
            "11:5: event 'e2' (2026-07-15 18:30–20:00 UTC) overlaps event 'e1' "
            "(2026-07-15 18:00–19:00 UTC, plan.yaml:8:5) on VEN CE-02"
        ],
    ),
    # --- YAML itself -------------------------------------------------------------------------
    (
        "YAML syntax",
        EVENT + "    targets: [{ven: A}\n",
        ["12:1: YAML syntax: expected ',' or ']', but got '<stream end>'"],
    ),
    (
        "duplicate key",
        EVENT + "    start: 2026-07-15 14:30\n",
        ["11:5: duplicate key 'start' (first at line 9)"],
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_violation_is_reported_with_position(body: str, expected: list[str]) -> None:
    text = str(body) if isinstance(body, Bare) else doc(body)
    assert problems(text) == expected


def test_the_bodies_without_their_fault_are_valid() -> None:
    """The fixtures the table breaks are themselves valid plans."""
    assert [e.event_id for e in events(doc(EVENT))] == ["e1"]
    assert len(events(doc(PROGRAM))) == 22


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    body = (
        EVENT.replace("id: e1", "id: heat wave")
        + "    nme: x\n"
        + PROGRAM.replace("duration: 3h", "duration: 0m")
        + "    skip_holidays: XX\n"
    )
    found = problems(doc(body))
    assert found == [
        "8:9: id 'heat wave' is not a valid id: use 1–64 of A-Z a-z 0-9 . _ - (not . or ..)",
        "11:5: unknown key 'nme' (did you mean 'name'?)",
        "18:15: duration: '0m' must be longer than zero",
        "19:20: skip_holidays: the holidays package has no calendar for country XX",
    ]
