"""One event of a batch failing never changes the answer to the others (openleadr's trap:
a raising ``on_event`` handler opts out of the whole batch)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

import scheduler.openadr.ven as ven_module
from scheduler.clock import SystemClock
from scheduler.openadr.ven import Ven
from scheduler.store.openadr import Answer
from tests.support.openadr.vens import ven_config
from tests.support.openadr.vtn import CONTEXT, at


class RecordingClient:
    def __init__(self) -> None:
        self.answers: list[tuple[str, str, str]] = []

    async def answer(self, request_id: str, answer: Answer) -> None:
        self.answers.append((request_id, answer.oadr_event_id, answer.opt))


def raw(event_id: str, **descriptor: Any) -> dict[str, Any]:
    start = at(30)
    return {
        "event_descriptor": {
            "event_id": event_id,
            "modification_number": 0,
            "event_status": "far",
            "market_context": CONTEXT,
            **descriptor,
        },
        "active_period": {"dtstart": start, "duration": at(90) - start},
        "event_signals": [
            {
                "signal_name": "LOAD_CONTROL",
                "signal_type": "x-loadControlLevelOffset",
                "intervals": [{"dtstart": start, "signal_payload": 5}],
            }
        ],
        "response_required": "always",
    }


async def test_a_failing_or_unreadable_event_leaves_the_others_answered(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ingest = ven_module.ingest

    def ingest(engine: Engine, event: Any, *args: Any) -> Answer:
        if event.event_id == "boom":
            raise RuntimeError("database went away")
        return real_ingest(engine, event, *args)

    monkeypatch.setattr(ven_module, "ingest", ingest)
    ven = Ven(ven_config("http://127.0.0.1:1"), engine, SystemClock())
    client = RecordingClient()
    ven.client = client
    unreadable = raw("broken")
    del unreadable["active_period"]
    payload = {
        "vtn_id": "VTN",
        "request_id": "req-1",
        "events": [raw("first"), raw("boom"), unreadable, raw("last", market_context="x:y")],
    }

    complete = await ven.distribute(payload)

    assert complete is False  # "boom" is asked for again on the next cycle
    assert client.answers == [
        ("req-1", "first", "optIn"),
        ("req-1", "broken", "optOut"),
        ("req-1", "last", "optOut"),
    ]
