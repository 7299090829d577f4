"""Plan keys of load shaping (issue 15): parsed into the event, every problem at file:line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler.domain.events import TempUnit
from scheduler.domain.shaping import PreCondition, Ramp, Shaping
from tests.support.plans import doc, events, problems

EVENT = """\
events:
  - id: ev-1
    start: 2026-07-15 14:00
    end: 2026-07-15 16:00
"""


def with_keys(keys: str) -> str:
    """An event (line 8) with ``keys`` written under it from line 11 on."""
    return doc(EVENT + "".join(f"    {line}\n" for line in keys.splitlines()))


def test_every_key_reaches_the_event() -> None:
    [event] = events(
        with_keys(
            "pre_condition: {duration: 1h, offset: 2F}\n"
            "randomize_start: 10m\n"
            "restore: {stagger: 15m, ramp: 0.5C/2m}"
        )
    )
    assert event.shaping == Shaping(
        PreCondition(timedelta(hours=1), 2.0, TempUnit.F),
        timedelta(minutes=10),
        timedelta(minutes=15),
        Ramp(0.5, TempUnit.C, timedelta(minutes=2)),
    )


def test_no_keys_no_shaping_and_the_fingerprint_is_unchanged() -> None:
    [plain] = events(doc(EVENT))
    assert plain.shaping is None
    assert "shaping" not in plain.content()
    [shaped] = events(with_keys("randomize_start: 5m"))
    assert shaped.fingerprint() != plain.fingerprint()


def test_defaults_and_programs_carry_shaping() -> None:
    text = doc(
        """\
        programs:
          - id: weekday
            rrule: FREQ=DAILY
            from: 2026-07-01
            until: 2026-07-02
            start_time: "15:00"
            duration: 3h
            restore: {ramp: 1F/5m}
        """
    ).replace("defaults:\n", "defaults:\n  randomize_start: 5m\n")
    found = events(text)
    assert [e.shaping for e in found] == [
        Shaping(None, timedelta(minutes=5), None, Ramp(1.0, TempUnit.F, timedelta(minutes=5)))
    ] * 2


BAD = {
    "offset without unit": (
        "pre_condition: {duration: 1h, offset: 2}",
        "11:43: pre_condition.offset: '2' is not a temperature difference: write it like 2F or 1C",
    ),
    "offset too large": (
        "pre_condition: {duration: 1h, offset: 6C}",
        "11:43: pre_condition.offset: '6C' is more than 10F (5.5C)",
    ),
    "offset zero": (
        "pre_condition: {duration: 1h, offset: 0F}",
        "11:43: pre_condition.offset: '0F' must be more than zero",
    ),
    "pre duration too long": (
        "pre_condition: {duration: 7h, offset: 2F}",
        "11:31: pre_condition.duration: '7h' is out of range: 15m to 6h",
    ),
    "pre duration not a duration": (
        "pre_condition: {duration: soon, offset: 2F}",
        "11:31: pre_condition.duration: invalid duration 'soon': "
        "write it like 90s, 5m, 24h or 1h30m",
    ),
    "randomize too long": (
        "randomize_start: 2h",
        "11:22: randomize_start: '2h' is out of range: 0s to 1h",
    ),
    "stagger too long": (
        "restore: {stagger: 3h}",
        "11:24: restore.stagger: '3h' is out of range: 0s to 2h",
    ),
    "ramp without every": (
        "restore: {ramp: 1F}",
        "11:21: restore.ramp: '1F' is not a ramp: write STEP/EVERY, e.g. 1F/5m",
    ),
    "ramp too often": (
        "restore: {ramp: 1F/5s}",
        "11:21: restore.ramp: '5s' is out of range: 30s to 1h",
    ),
    "unknown key inside": (
        "restore: {stager: 5m}",
        "11:15: unknown key 'stager' (did you mean 'stagger'?)",
    ),
}


@pytest.mark.parametrize(("keys", "expected"), BAD.values(), ids=BAD.keys())
def test_bad_values_name_their_line_and_column(keys: str, expected: str) -> None:
    assert problems(with_keys(keys)) == [expected]


def test_randomize_start_shorter_than_the_window() -> None:
    text = doc(EVENT.replace("16:00", "14:30")) + "    randomize_start: 30m\n"
    assert problems(text) == [  # and for a program, against its duration
        "11:22: randomize_start 30m is not shorter than the window of event 'ev-1' (30m)"
    ]


def test_randomize_start_shorter_than_a_programs_duration() -> None:
    text = doc(
        """\
        programs:
          - id: short
            rrule: FREQ=DAILY
            from: 2026-07-01
            until: 2026-07-02
            start_time: "15:00"
            duration: 20m
            randomize_start: 20m
        """
    )
    assert problems(text) == [
        "14:22: randomize_start 20m is not shorter than the window of program 'short' (20m)"
    ]


@pytest.mark.parametrize(
    ("item", "line"),
    [
        ("events:\n  - start: 2026-07-15 14:00\n    end: 2026-07-15 16:00\n", 8),
        (
            """\
            programs:
              - rrule: FREQ=DAILY
                from: 2026-07-01
                until: 2026-07-02
                start_time: "15:00"
                duration: 3h
            """,
            8,
        ),
    ],
    ids=["event", "program"],
)
def test_a_shaping_problem_is_reported_beside_a_missing_id(item: str, line: int) -> None:
    """No problem hides another (issue 16): without ``id`` the shaping keys are still read."""
    text = doc(item) + "    randomize_start: 2h\n"
    assert set(problems(text)) == {
        f"{line}:5: missing required key 'id'",
        f"{text.count(chr(10))}:22: randomize_start: '2h' is out of range: 0s to 1h",
    }
