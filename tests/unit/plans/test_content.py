"""Signals, targets and defaults: what each event ends up asking of whom."""

from __future__ import annotations

import textwrap

from scheduler.domain.events import EventTarget, Signal, TempUnit
from tests.support.plans import by_id, doc, problems

EVENT = """\
events:
  - id: e1
    start: 2026-07-15 14:00
    end: 2026-07-15 15:00
"""


def signals(yaml_list: str) -> tuple[Signal, ...]:
    return by_id(doc(EVENT + f"    signals: {yaml_list}\n"))["e1"].signals


def test_signal_id_defaults_to_position_and_type_to_the_name() -> None:
    found = signals(
        "[{name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER]},"
        " {name: SIMPLE, targets: [x-DEVICE_TV]}, {id: tv2, name: SIMPLE, targets: [T]}]"
    )
    assert [(s.signal_id, s.name, s.type) for s in found] == [
        ("1", "LOAD_CONTROL", "x-loadControlLevelOffset"),
        ("2", "SIMPLE", "level"),
        ("tv2", "SIMPLE", "level"),
    ]


def test_both_spellings_of_the_load_control_type_are_read_and_normalised() -> None:
    found = signals(
        "[{name: LOAD_CONTROL, type: x-LoadControlLevelOffset, targets: [A]},"
        " {name: LOAD_CONTROL, type: x-loadControlLevelOffset, targets: [B]}]"
    )
    assert {s.type for s in found} == {"x-loadControlLevelOffset"}


def test_temperatures_are_kept_as_written_in_their_unit() -> None:
    (found,) = signals(
        "[{name: LOAD_CONTROL, targets: [x-DEVICE_AIR_CONDITIONER],"
        " min_temp: 18, max_temp: 30, temp_offset: 8.5, unit: C}]"
    )
    assert (found.min_temp, found.max_temp, found.temp_offset, found.unit) == (
        18.0,
        30.0,
        8.5,
        TempUnit.C,
    )
    assert found.controls_air_conditioners


def test_range_bounds_are_inclusive_after_conversion() -> None:
    # 30 °C is exactly 86 °F; 17.8 °C is 64.04 °F; 2.25 °C is a change of 4.05 °F.
    (found,) = signals(
        "[{name: LOAD_CONTROL, targets: [A], min_temp: 17.8, max_temp: 30,"
        " temp_offset: 2.25, unit: C}]"
    )
    assert found.max_temp == 30.0
    edge_f = signals(
        "[{name: LOAD_CONTROL, targets: [A], min_temp: 64, max_temp: 86, temp_offset: 16}]"
    )
    assert edge_f[0].unit is None  # no unit means °F (DR spec)
    equal = signals("[{name: LOAD_CONTROL, targets: [A], min_temp: 75, max_temp: 75}]")
    assert equal[0].min_temp == equal[0].max_temp == 75.0


def test_offset_in_celsius_just_below_the_range_is_refused() -> None:
    # 2.2 °C is a change of 3.96 °F: below 4 °F although 2.2 °C "looks" like 4 °F.
    assert problems(
        doc(
            EVENT + "    signals: [{name: LOAD_CONTROL, targets: [A], temp_offset: 2.2, unit: C}]\n"
        )
    ) == ["11:63: temp_offset 2.2 °C (a change of 3.96 °F) is outside 4–16 °F"]


def test_targets_with_resources_and_numeric_ids_read_as_text() -> None:
    event = by_id(doc(EVENT + "    targets: [{ven: 101, resources: [CE-TV, 7]}, {ven: CE-03}]\n"))[
        "e1"
    ]
    assert event.targets == (EventTarget("101", ("CE-TV", "7")), EventTarget("CE-03"))


def test_defaults_fill_what_an_event_leaves_out_and_event_keys_win() -> None:
    text = doc(
        EVENT + "  - id: e2\n    start: 2026-07-16 14:00\n    end: 2026-07-16 15:00\n"
        "    vtn_id: vtn02\n    signals: [{name: LOAD_CONTROL, targets: [A]}]\n"
    )
    found = by_id(text)
    assert (found["e1"].vtn_id, found["e2"].vtn_id) == ("vtn01", "vtn02")
    assert [s.name for s in found["e1"].signals] == ["SIMPLE"]
    assert [s.name for s in found["e2"].signals] == ["LOAD_CONTROL"]  # replaced, not appended
    assert found["e2"].targets == (EventTarget("CE-02"),)


def test_a_broken_default_is_reported_once_at_the_default() -> None:
    text = textwrap.dedent("""\
        timezone: UTC
        defaults:
          vtn_id: vtn01
          targets: [{ven: CE-02}]
          signals:
            - {name: LOAD_CONTROL, targets: [A], max_temp: 99}
        events:
          - {id: e1, start: 2026-07-15 14:00, end: 2026-07-15 15:00}
          - {id: e2, start: 2026-07-16 14:00, end: 2026-07-16 15:00}
          - {id: e3, start: 2026-07-17 14:00, end: 2026-07-17 15:00}
        """)
    assert problems(text) == ["6:52: max_temp 99 °F is outside 64–86 °F"]


def test_a_broken_default_is_reported_even_when_no_event_uses_it() -> None:
    text = "defaults:\n  signals: [{name: SIMPLE, targets: [T], max_tmp: 80}]\n"
    assert problems(text) == ["2:42: unknown key 'max_tmp' (did you mean 'max_temp'?)"]


def test_an_event_without_defaults_needs_everything() -> None:
    text = "timezone: UTC\nevents:\n  - {id: e1, start: 2026-07-15 14:00, end: 2026-07-15 15:00}\n"
    assert problems(text) == ["3:5: missing vtn_id, targets, signals (give it here or in defaults)"]


def test_an_empty_plan_has_no_events() -> None:
    assert by_id("") == {}
    assert by_id("# nothing planned yet\n") == {}
    assert by_id("timezone: UTC\nevents: []\nprograms:\n") == {}
