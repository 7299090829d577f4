"""drsched's VEN against a real OpenLEADR VTN on 127.0.0.1 (issue 12).

The VTN asks for a 1 s poll; every wait polls for its condition.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openleadr import utils
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from scheduler.config import OpenadrConfig
from scheduler.domain.lifecycle import Status
from scheduler.openadr.ven import Ven
from scheduler.store import events as repo
from scheduler.store.models import EventRow
from scheduler.store.openadr import all_vens
from tests.support.openadr.certs import Pair, make_pki
from tests.support.openadr.vens import Vens, ven_config
from tests.support.openadr.vtn import CONTEXT, VTN_ID, Vtn, at, wait_until
from tests.support.processes import free_port

# openleadr's VTN keys its aiohttp app with a str (issue 12): this one warning only.
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning")


def rows(engine: Engine) -> list[EventRow]:
    with Session(engine) as session:
        return list(session.scalars(select(EventRow).order_by(EventRow.event_id)))


def opt_of(vtn: Vtn, event_id: str) -> str | None:
    return next((opt for eid, opt in reversed(vtn.opts) if eid == event_id), None)


async def registered(vtn: Vtn, ven: Ven) -> str:
    await wait_until(lambda: ven.health.state == "registered", "registration")
    assert ven.client is not None
    assert ven.client.ven_id
    return ven.client.ven_id


async def test_an_event_becomes_one_drsched_event_and_is_opted_in(
    vtn: Vtn, engine: Engine, run_ven: Vens
) -> None:
    ven = run_ven(ven_config(vtn.url))
    ven_id = await registered(vtn, ven)
    start = at(30)
    event_id = vtn.add_event(ven_id, start, duration=timedelta(hours=2), payload=6)

    assert await wait_until(lambda: opt_of(vtn, event_id), "the VTN's opt") == "optIn"
    [row] = rows(engine)
    assert (row.event_id, row.start, row.end) == (event_id, start, start + timedelta(hours=2))
    assert row.source == f"openadr {VTN_ID} {event_id} mod 0"
    assert row.vtn_id == "vtn01"
    assert row.status == Status.PLANNED.value
    [signal] = row.signals
    assert (signal.name, signal.temp_offset, signal.max_temp, signal.unit) == (
        "LOAD_CONTROL",
        6.0,
        80.0,
        "F",
    )
    assert [t.ven_id for t in row.targets] == ["CE-02"]
    with Session(engine) as session:
        [state] = all_vens(session)
    assert state.ven_id == ven_id
    assert state.vtn_id == VTN_ID
    assert state.last_poll_at


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"market_context": "oadr://elsewhere/other"}, "no mapping for market context"),
        ({"payload": 20}, "temp_offset (payload) 20 °F is outside 4–16 °F"),
        ({"signal": "SIMPLE", "payload": 0}, "SIMPLE level 0 is not one of 1, 2, 3"),
    ],
)
async def test_an_event_drsched_cannot_honour_is_opted_out_and_not_stored(
    vtn: Vtn,
    engine: Engine,
    run_ven: Vens,
    kwargs: dict[str, object],
    reason: str,
) -> None:
    ven = run_ven(ven_config(vtn.url))
    ven_id = await registered(vtn, ven)
    event_id = vtn.add_event(ven_id, at(30), **kwargs)

    assert await wait_until(lambda: opt_of(vtn, event_id), "the VTN's opt") == "optOut"
    assert rows(engine) == []
    from scheduler.store.openadr import answer_of

    with Session(engine) as session:
        answer = answer_of(session, VTN_ID, event_id)
    assert answer is not None
    assert reason in answer.reason


def test_a_window_already_over_is_opted_out_and_not_stored(engine: Engine) -> None:
    """openleadr's own VTN drops an event once its window is over; another VTN may still
    send one (drsched was down through it): drsched must not submit it."""
    from scheduler.openadr.ingest import ingest
    from scheduler.openadr.mapping import VtnEvent, VtnSignal

    start = at(-90)
    event = VtnEvent(
        VTN_ID,
        "late",
        0,
        "active",
        CONTEXT,
        start,
        start + timedelta(minutes=30),
        (VtnSignal("LOAD_CONTROL", "x-loadControlLevelOffset", (4.0,)),),
        True,
    )
    answer = ingest(engine, event, ven_config("http://127.0.0.1:1").market_contexts, at(0))
    assert (answer.opt, answer.reason) == ("optOut", "window already over: not stored")
    assert rows(engine) == []
    again = ingest(engine, event, ven_config("http://127.0.0.1:1").market_contexts, at(0))
    assert again == answer
    assert rows(engine) == []


async def test_cancel_at_the_vtn_requests_the_cancel(
    vtn: Vtn, engine: Engine, run_ven: Vens
) -> None:
    ven = run_ven(ven_config(vtn.url))
    ven_id = await registered(vtn, ven)
    event_id = vtn.add_event(ven_id, at(30))
    await wait_until(lambda: opt_of(vtn, event_id), "the opt-in")
    vtn.cancel(ven_id, event_id)

    await wait_until(lambda: rows(engine)[0].cancel_requested, "the cancel request")
    with Session(engine) as session:
        notes = [t.detail for t in repo.timeline(session, event_id)]
    assert any("cancelled at the VTN" in n for n in notes)


async def test_a_modification_while_pending_is_resubmitted(
    vtn: Vtn, engine: Engine, run_ven: Vens
) -> None:
    ven = run_ven(ven_config(vtn.url))
    ven_id = await registered(vtn, ven)
    event_id = vtn.add_event(ven_id, at(30), payload=4)
    await wait_until(lambda: opt_of(vtn, event_id), "the opt-in")
    with Session(engine.connect()) as session:  # the daemon submitted it: pending
        session.execute(
            EventRow.__table__.update().values(
                status="pending", request_id=f"{event_id}-r1", submitted_revision=1
            )
        )
        session.commit()

    def offset_8(event: Any) -> None:
        utils.setmember(event.event_signals[0].intervals[0], "signal_payload", 8)

    vtn.modify(ven_id, event_id, offset_8)
    await wait_until(lambda: rows(engine)[0].revision == 2, "the new revision")
    [row] = rows(engine)
    assert row.signals[0].temp_offset == 8.0
    assert row.source.endswith("mod 1")
    assert await wait_until(lambda: len([o for o in vtn.opts if o[0] == event_id]) == 2, "2 opts")


async def test_a_modification_from_standby_on_is_refused_and_opted_out(
    vtn: Vtn, engine: Engine, run_ven: Vens
) -> None:
    ven = run_ven(ven_config(vtn.url))
    ven_id = await registered(vtn, ven)
    event_id = vtn.add_event(ven_id, at(30), payload=4)
    await wait_until(lambda: opt_of(vtn, event_id), "the opt-in")
    with Session(engine.connect()) as session:
        session.execute(EventRow.__table__.update().values(status="standby"))
        session.commit()

    def offset_8(event: Any) -> None:
        utils.setmember(event.event_signals[0].intervals[0], "signal_payload", 8)

    vtn.modify(ven_id, event_id, offset_8)
    await wait_until(lambda: opt_of(vtn, event_id) == "optOut", "the opt-out of the change")
    [row] = rows(engine)
    assert row.signals[0].temp_offset == 4.0
    assert row.revision == 1
    with Session(engine) as session:
        notes = [t.detail for t in repo.timeline(session, event_id)]
    assert any("refused, opted out" in n and "standby" in n for n in notes)


async def test_a_restart_keeps_the_ven_id_and_duplicates_nothing(
    vtn: Vtn, engine: Engine, run_ven: Vens
) -> None:
    first = run_ven(ven_config(vtn.url))
    ven_id = await registered(vtn, first)
    event_id = vtn.add_event(ven_id, at(30))
    await wait_until(lambda: opt_of(vtn, event_id), "the opt-in")
    await run_ven.stop(first)
    registrations = len(vtn.registrations)

    second = run_ven(ven_config(vtn.url))
    await wait_until(lambda: len(vtn.registrations) > registrations, "re-registration")
    assert vtn.registrations[-1]["ven_id"] == ven_id
    assert await registered(vtn, second) == ven_id
    await wait_until(lambda: second.health.last_poll_at is not None, "a poll")
    assert [r.event_id for r in rows(engine)] == [event_id]
    assert [r.revision for r in rows(engine)] == [1]


async def test_a_vtn_down_at_start_is_retried_until_it_comes_up(
    engine: Engine, run_ven: Vens
) -> None:
    server = Vtn(free_port())
    ven = run_ven(ven_config(server.url))
    await wait_until(lambda: ven.health.state == "retrying", "a failed registration")
    assert ven.health.last_error
    with Session(engine) as session:
        [state] = all_vens(session)
    assert state.state == "retrying"
    assert state.last_error
    assert state.next_retry_at
    await server.start()
    try:
        await registered(server, ven)
        with Session(engine) as session:
            [state] = all_vens(session)
        assert state.state == "registered"
        assert state.last_error is None
    finally:
        await server.stop()


@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
async def test_mutual_tls_with_signed_messages(
    tmp_path: Path, engine: Engine, run_ven: Vens, kind: str
) -> None:
    ca, vtn_pair, ven_pair = make_pki(tmp_path, kind)
    server = tls_vtn(ca, vtn_pair, ven_pair)
    await server.start()
    try:
        config = tls_config(server.url, ca, ven_pair, fingerprint(vtn_pair.cert))
        ven = run_ven(config)
        ven_id = await registered(server, ven)
        assert server.registrations[-1]["fingerprint"] == fingerprint(ven_pair.cert)
        event_id = server.add_event(ven_id, at(30))
        assert await wait_until(lambda: opt_of(server, event_id), "the opt-in") == "optIn"
        assert [r.event_id for r in rows(engine)] == [event_id]
    finally:
        await server.stop()


async def test_a_wrong_vtn_fingerprint_is_refused_and_nothing_is_stored(
    tmp_path: Path, engine: Engine, run_ven: Vens
) -> None:
    ca, vtn_pair, ven_pair = make_pki(tmp_path, "p256")
    server = tls_vtn(ca, vtn_pair, ven_pair)
    await server.start()
    try:
        ven = run_ven(tls_config(server.url, ca, ven_pair, "00:11:22:33:44:55:66:77:88:99"))
        await wait_until(lambda: ven.health.state == "retrying", "a refused registration")
        assert ven.health.last_error is not None
        assert "fingerprint does not match openadr.vtn_fingerprint" in ven.health.last_error
        with Session(engine) as session:
            [state] = all_vens(session)
        assert state.ven_id is None
        assert state.registration_id is None
        assert rows(engine) == []
    finally:
        await server.stop()


def fingerprint(cert: Path) -> str:
    return str(utils.certificate_fingerprint(cert.read_text()))


def tls_vtn(ca: Path, vtn_pair: Pair, ven_pair: Pair) -> Vtn:
    server = Vtn(free_port())
    server.tls = {
        "cert": str(vtn_pair.cert),
        "key": str(vtn_pair.key),
        "http_cert": str(vtn_pair.cert),
        "http_key": str(vtn_pair.key),
        "http_ca_file": str(ca),
    }
    server.tls_fingerprint = fingerprint(ven_pair.cert)
    return server


def tls_config(url: str, ca: Path, ven_pair: Pair, vtn_fingerprint: str) -> OpenadrConfig:
    return ven_config(
        url,
        cert_file=str(ven_pair.cert),
        key_file=str(ven_pair.key),
        ca_file=str(ca),
        vtn_fingerprint=vtn_fingerprint,
    )


async def test_a_database_failure_pauses_the_ven_but_never_stops_it(
    vtn: Vtn, tmp_path: Path
) -> None:
    from scheduler.store import open_engine
    from scheduler.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'late.db'}"
    sql = open_engine(url)  # no schema yet: every VEN write fails
    vens = Vens(sql)
    try:
        ven = vens(ven_config(vtn.url))
        await wait_until(lambda: ven.health.state == "failed", "the database failure")
        assert ven.health.last_error is not None
        assert "no such table" in ven.health.last_error
        upgrade(url)
        await registered(vtn, ven)
    finally:
        await vens.stop()
        sql.dispose()
