"""The VEN's registration and last poll in ``drsched status`` and ``/healthz`` (database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from scheduler.commands.status import gather, render
from scheduler.config import Config, DatabaseConfig
from scheduler.health import HealthChecks, Heartbeat, health_report
from scheduler.openadr.health import ven_check
from scheduler.store import transaction
from scheduler.store.openadr import save_ven
from tests.support.openadr.vens import ven_config

URL = "http://127.0.0.1:1/OpenADR2/Simple/2.0b"
NOW = datetime(2026, 7, 15, 14, tzinfo=UTC)


def save(engine: Engine, **fields: object) -> None:
    with transaction(engine) as session:
        save_ven(session, URL, "drsched-test", NOW, **fields)


async def report(engine: Engine, leading: bool = True) -> dict[str, object]:
    async def ok() -> None:
        return None

    heartbeat = Heartbeat()
    heartbeat.beat()
    checks = HealthChecks(heartbeat, ok, extra={"openadr": ven_check(engine, URL, lambda: leading)})
    _, body = await health_report(checks)
    return body["checks"]["openadr"]


async def test_healthz_fails_while_registration_is_retried_and_passes_once_registered(
    engine: Engine,
) -> None:
    assert (await report(engine))["ok"] is False  # never contacted
    save(engine, state="retrying", last_error="Cannot connect to host 127.0.0.1:1")
    failing = await report(engine)
    assert failing == {
        "ok": False,
        "detail": f"VenUnhealthy: not registered with {URL}: Cannot connect to host 127.0.0.1:1",
    }
    assert (await report(engine, leading=False))["ok"] is True  # a standby is not judged
    save(engine, state="registered", ven_id="ven-1", last_error=None, last_poll_at=NOW)
    assert await report(engine) == {
        "ok": True,
        "detail": "registered as ven-1, last poll 14:00:00Z",
    }


def test_status_shows_registration_and_last_poll(
    engine: Engine, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    save(engine, state="registered", ven_id="ven-1", vtn_id="TEST-VTN", last_poll_at=NOW)
    config = Config(database=DatabaseConfig(url=sqlite_url), openadr=ven_config(URL))
    found = gather(config, NOW)
    assert found["openadr"]["ven_id"] == "ven-1"
    assert found["openadr"]["last_poll_at"] == NOW.isoformat()
    render(found)
    out = " ".join(capsys.readouterr().out.split())
    assert (
        f"openadr registered as ven-1 at TEST-VTN ({URL}), last poll 2026-07-15T14:00:00+00:00"
        in out
    )
