"""Every "Contract" assumption about the DR Requests API, in one place.

The spec (``/work/shared/specs/dr-requests-api.md``) contradicts itself in
places and leaves others open; what we assume is here, so it can change in
one place when the vendor answers: the envelope and its codes, which error is
retried, how a request is read back (status as text, both target shapes,
seconds or milliseconds), and when a request found by GET is the one we create.
The client (:mod:`scheduler.clients.dr.client`) only sends calls and uses these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from scheduler.clients.dr.types import DrRequest
from scheduler.clients.http import (
    body_excerpt,
    error_class_for_status,
    error_from_response,
)
from scheduler.clock import from_epoch, to_epoch_ms
from scheduler.domain.events import SIGNAL_TYPES, EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.lifecycle import API_STATUS, Status
from scheduler.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)

TITLE = "DR API"

# -- Contract: every assumption about the DR Requests API ----------------------

#: ``2000`` is the only success code.
SUCCESS = 2000
#: The vendor's "Common Response" codes and what each means to us. 4xx codes are
#: never retried; 5000 is. (405 comes without a code of its own: its HTTP status.)
CODE_ERRORS: dict[int, type[ApiError]] = {
    4000: PermanentApiError,  # bad request
    4101: PermanentApiError,  # invalid header
    4102: PermanentApiError,  # invalid body
    4103: AuthError,  # invalid token
    4201: AuthError,  # token invalid or expired
    **dict.fromkeys(range(4301, 4308), NotFoundError),  # user, request, ... resource
    405: PermanentApiError,  # method not allowed
    **dict.fromkeys(range(4308, 4312), AlreadyExistsError),  # user, request, device, resource
    5000: RetryableApiError,  # server error
}
#: Error envelopes carry no documented message field: these are read, in order.
MESSAGE_KEYS = ("message", "msg", "description")
#: The reference spells the LOAD_CONTROL type ``x-loadControlLevelOffset`` and
#: ``x-LoadControlLevelOffset``: read any case (keys are lower case), write ours.
SIGNAL_TYPE_SPELLINGS: dict[str, str] = {t.lower(): t for t in SIGNAL_TYPES.values()}
#: A request we deleted, or one a GET/DELETE no longer finds after our DELETE, is canceled.
DELETED_STATUS = Status.CANCELED


def same_request(found: DrRequest, event: PlanEvent, request_id: str) -> bool:
    """The request a GET found is the one we create: same id, VTN, window (to the ms), VENs.

    Another event's request may share the window and VTN (issue 10, bug 8):
    its VENs tell them apart. Contract: a service that echoes no targets is
    taken at its window and VTN; resource ids are not compared (the service
    may echo them differently).
    """
    return (
        found.request_id == request_id
        and found.vtn_id == event.vtn_id
        and found.start is not None
        and found.end is not None
        and to_epoch_ms(found.start) == to_epoch_ms(event.start)
        and to_epoch_ms(found.end) == to_epoch_ms(event.end)
        and (not found.targets or _vens(found.targets) == _vens(event.targets))
    )


def _vens(targets: Sequence[EventTarget]) -> frozenset[str]:
    return frozenset(t.ven_id for t in targets)


def error_class(code: int | None, http_status: int) -> type[ApiError]:
    """429 and 5xx are retryable whatever the code; else the code decides, else the status."""
    if http_status == 429 or http_status >= 500:
        return RetryableApiError
    if code is not None and code in CODE_ERRORS:
        return CODE_ERRORS[code]
    if 200 <= http_status < 300:
        return PermanentApiError  # an unknown non-success code
    return error_class_for_status(http_status)


# -- tolerant reading (Contract: the reference contradicts itself) -------------


def _as_int(value: object) -> int | None:
    """A number sent as a number or as a string of digits (``1``, ``"1"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _instant(value: object) -> datetime | None:
    """Epoch seconds (10 digits) or milliseconds (13 digits), as number or string."""
    number = _as_int(value)
    try:
        return None if number is None else from_epoch(number)
    except (OverflowError, OSError, ValueError):
        return None


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def read_targets(value: object) -> tuple[EventTarget, ...]:
    """``[{venID, resourceIDs}, ...]`` or one ``{venID: [ids], resourceIDs}`` object."""
    if isinstance(value, Mapping):
        resources = _strings(value.get("resourceIDs"))
        return tuple(EventTarget(ven, resources) for ven in _strings(value.get("venID")))
    if not isinstance(value, list):
        return ()
    targets: list[EventTarget] = []
    for item in value:
        if isinstance(item, Mapping):
            resources = _strings(item.get("resourceIDs"))
            targets.extend(EventTarget(ven, resources) for ven in _strings(item.get("venID")))
    return tuple(targets)


def _temperature(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def read_signal(item: Mapping[str, Any]) -> Signal:
    """One ``eventSignals`` entry; ``signalType`` in either spelling becomes ours."""
    raw_type = str(item.get("signalType", ""))
    unit = item.get("unit")
    return Signal(
        signal_id=str(item.get("signalID", "")),
        name=str(item.get("signalName", "")),
        type=SIGNAL_TYPE_SPELLINGS.get(raw_type.lower(), raw_type),
        targets=_strings(item.get("targets")),
        min_temp=_temperature(item.get("minTemp")),
        max_temp=_temperature(item.get("maxTemp")),
        temp_offset=_temperature(item.get("tempOffset")),
        unit=TempUnit(unit) if unit in ("F", "C") else None,
    )


def read_status(value: object) -> tuple[Status | None, str | None]:
    """(status, raw): a number or a string; an unknown value gives status None."""
    raw = None if value is None else str(value)
    number = _as_int(value)
    return (API_STATUS.get(number) if number is not None else None), raw


def read_request(data: Mapping[str, Any], request_id: str, message_id: str | None) -> DrRequest:
    """GET's ``data``, read tolerantly (status as text, both target shapes, s or ms)."""
    status, raw_status = read_status(data.get("status"))
    signals = data.get("eventSignals")
    name = data.get("name")
    return DrRequest(
        request_id=str(data.get("requestID") or request_id),
        status=status,
        raw_status=raw_status,
        start=_instant(data.get("startTs")),
        end=_instant(data.get("endTs")),
        insert_ts=_instant(data.get("insertTs")),
        vtn_id=str(data["vtnID"]) if data.get("vtnID") is not None else None,
        name=name if isinstance(name, str) else None,
        targets=read_targets(data.get("eventTargets")),
        signals=tuple(
            read_signal(s)
            for s in (signals if isinstance(signals, list) else [])
            if isinstance(s, Mapping)
        ),
        message_id=message_id,
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _message(body: Mapping[str, Any]) -> str | None:
    data = body.get("data")
    for where in (body, data if isinstance(data, Mapping) else {}):
        for key in MESSAGE_KEYS:
            if isinstance(where.get(key), str):
                return str(where[key])
    return None


def envelope_data(
    response: httpx.Response, operation: str, message_id: str | None
) -> Mapping[str, Any]:
    """``data`` of a ``{"code": 2000, ...}`` answer; any other answer raises its ApiError.

    A 2xx answer without a readable envelope is retryable: its outcome is
    unknown (for a create, the next attempt GETs first).
    """
    body = _json(response)
    code = _as_int(body.get("code")) if isinstance(body, Mapping) else None
    status = response.status_code
    if isinstance(body, Mapping) and code is not None:
        if code == SUCCESS and status < 300:
            data = body.get("data")
            return data if isinstance(data, Mapping) else {}
        message = _message(body) or body_excerpt(response)
        cls = error_class(code, status)
        raise error_from_response(
            TITLE,
            operation,
            response,
            code=str(code),
            message=message,
            message_id=message_id,
            error_class=cls,
        )
    if status < 300:
        message = f"no DR envelope in the answer: {body_excerpt(response)!r}"
        raise error_from_response(
            TITLE,
            operation,
            response,
            message=message,
            message_id=message_id,
            error_class=RetryableApiError,
        )
    raise error_from_response(TITLE, operation, response, message_id=message_id)
