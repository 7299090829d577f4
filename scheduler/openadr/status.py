"""The VEN's line in ``drsched status``: registration and last poll, from the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scheduler.store.openadr import load_ven


def ven_report(session: Session, vtn_url: str) -> dict[str, Any]:
    state = load_ven(session, vtn_url)
    if state is None:
        return {"vtn_url": vtn_url, "state": "never contacted"}
    return {
        "vtn_url": vtn_url,
        "vtn_id": state.vtn_id,
        "ven_name": state.ven_name,
        "ven_id": state.ven_id,
        "registration_id": state.registration_id,
        "state": state.state,
        "registered_at": _iso(state.registered_at),
        "last_poll_at": _iso(state.last_poll_at),
        "last_error": state.last_error,
        "next_retry_at": _iso(state.next_retry_at),
    }


def describe_ven(report: dict[str, Any]) -> str:
    """One line, e.g. ``registered as ven-1 at TEST-VTN (...), last poll 12:00:01Z``."""
    where = f"{report.get('vtn_id') or '?'} ({report['vtn_url']})"
    state = report["state"]
    if state == "never contacted":
        return f"{where}: never contacted (is the daemon running?)"
    line = f"{state} as {report.get('ven_id') or '(no VEN id yet)'} at {where}"
    line += f", last poll {report.get('last_poll_at') or 'never'}"
    if report.get("last_error"):
        line += f"; last error: {report['last_error']}"
    if report.get("next_retry_at"):
        line += f"; next try {report['next_retry_at']}"
    return line


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
