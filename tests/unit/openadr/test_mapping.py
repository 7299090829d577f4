"""OpenADR event -> drsched event: the mapping and the plan rules on every value (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.config import MarketContextMap
from scheduler.domain.events import TempUnit
from scheduler.openadr.mapping import Refusal, UnreadableEvent, VtnEvent, map_event, read_event

START = datetime(2026, 7, 15, 18, tzinfo=UTC)
CONTEXT = MarketContextMap.model_validate(
    {
        "market_context": "oadr://u/peak",
        "vtn_id": "vtn01",
        "targets": [{"ven": "CE-02", "resources": ["R1"]}],
        "signals": [
            {"signal": "LOAD_CONTROL", "targets": ["x-DEVICE_AIR_CONDITIONER"],
             "min_temp": 70, "max_temp": 80, "unit": "F"},
            {"signal": "SIMPLE", "targets": ["x-DEVICE_TV"]},
        ],
    }
)  # fmt: skip  # one signal a line, as in a plan file


def raw(*signals: tuple[str, str, list[float]], context: str = "oadr://u/peak") -> dict[str, Any]:
    return {
        "event_descriptor": {
            "event_id": "ev1",
            "modification_number": 3,
            "event_status": "far",
            "market_context": context,
        },
        "active_period": {"dtstart": START, "duration": timedelta(hours=2)},
        "event_signals": [
            {
                "signal_name": name,
                "signal_type": kind,
                "intervals": [
                    {"dtstart": START, "duration": timedelta(hours=1), "signal_payload": p}
                    for p in payloads
                ],
            }
            for name, kind, payloads in signals
        ],
        "response_required": "always",
    }


LOAD = ("LOAD_CONTROL", "x-loadControlLevelOffset", [6.0, 6.0])


def mapped(*signals: tuple[str, str, list[float]], context: str = "oadr://u/peak") -> object:
    return map_event(read_event("VTN", raw(*signals, context=context)), [CONTEXT])


def test_a_load_control_event_maps_to_the_program_defaults_with_the_payload_as_offset() -> None:
    event = mapped(LOAD, ("SIMPLE", "level", [2]))
    assert not isinstance(event, Refusal)
    assert (event.event_id, event.vtn_id, event.start, event.end) == (
        "ev1",
        "vtn01",
        START,
        START + timedelta(hours=2),
    )
    assert event.source == "openadr VTN ev1 mod 3"
    load, simple = event.signals
    assert (load.name, load.type, load.targets) == (
        "LOAD_CONTROL",
        "x-loadControlLevelOffset",
        ("x-DEVICE_AIR_CONDITIONER",),
    )
    assert (load.min_temp, load.max_temp, load.temp_offset, load.unit) == (70, 80, 6.0, TempUnit.F)
    assert (simple.name, simple.type, simple.targets) == ("SIMPLE", "level", ("x-DEVICE_TV",))
    assert [(t.ven_id, t.resource_ids) for t in event.targets] == [("CE-02", ("R1",))]


@pytest.mark.parametrize(
    ("signals", "context", "reason"),
    [
        ([LOAD], "oadr://u/other", "no mapping for market context 'oadr://u/other'"),
        ([("ELECTRICITY_PRICE", "price", [0.3])], "oadr://u/peak", "signal ELECTRICITY_PRICE has"),
        ([("LOAD_CONTROL", "x-loadControlLevelOffset", [3])], "oadr://u/peak", "outside 4–16 °F"),
        ([("LOAD_CONTROL", "x-loadControlLevelOffset", [17])], "oadr://u/peak", "outside 4–16"),
        ([("LOAD_CONTROL", "x-loadControlLevelOffset", [4, 8])], "oadr://u/peak", "needs one"),
        ([("LOAD_CONTROL", "x-loadControlSetpoint", [72])], "oadr://u/peak", "not supported"),
        ([("SIMPLE", "level", [0])], "oadr://u/peak", "SIMPLE level 0 is not one of 1, 2, 3"),
        ([], "oadr://u/peak", "no signal"),
    ],
)
def test_what_breaks_a_rule_is_refused_with_the_reason(
    signals: list[tuple[str, str, list[float]]], context: str, reason: str
) -> None:
    refusal = mapped(*signals, context=context)
    assert isinstance(refusal, Refusal)
    assert reason in refusal.reason


def test_bounds_outside_the_plan_rules_are_refused() -> None:
    hot = CONTEXT.model_copy(
        update={"signals": [CONTEXT.signals[0].model_copy(update={"max_temp": 90.0})]}
    )
    refusal = map_event(read_event("VTN", raw(LOAD)), [hot])
    assert refusal == Refusal("max_temp 90 °F is outside 64–86 °F")


def test_celsius_offsets_convert_as_differences() -> None:
    celsius = CONTEXT.model_copy(
        update={
            "signals": [
                CONTEXT.signals[0].model_copy(update={"min_temp": 21, "max_temp": 27, "unit": "C"})
            ]
        }
    )
    ok = map_event(
        read_event("VTN", raw(("LOAD_CONTROL", "x-loadControlLevelOffset", [3]))), [celsius]
    )
    assert not isinstance(ok, Refusal)  # 3 °C = 5.4 °F
    too_big = map_event(
        read_event("VTN", raw(("LOAD_CONTROL", "x-loadControlLevelOffset", [9]))), [celsius]
    )
    assert isinstance(too_big, Refusal)  # 9 °C = 16.2 °F


@pytest.mark.parametrize(
    "broken",
    [
        {"event_descriptor": {}},
        {"active_period": {"dtstart": START.replace(tzinfo=None), "duration": timedelta(1)}},
        {"active_period": {"dtstart": START, "duration": timedelta(0)}},
    ],
)
def test_an_unreadable_event_says_so(broken: dict[str, Any]) -> None:
    with pytest.raises(UnreadableEvent):
        read_event("VTN", raw(LOAD) | broken)


def test_read_event_keeps_the_window_in_utc() -> None:
    event = read_event("VTN", raw(LOAD))
    assert isinstance(event, VtnEvent)
    assert event.start.tzinfo == UTC
