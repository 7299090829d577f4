"""Every "Contract" assumption about the BECON Connect API, and nothing else.

The vendor's guide (``/work/shared/specs/becon-connect-api.md``) gives the
call sequence, paths, headers and HTTP statuses; it does not publish the JSON
bodies, the signature algorithm or the token header. What this project
assumes about those lives here, one function per request or response shape,
so a partner holding the vendor's full reference changes this module only.

Readers are tolerant (numbers as strings, ``code`` as a number, unknown
fields ignored, malformed list items skipped with a warning) and raise
:class:`ShapeError` when the answer cannot be used at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from scheduler.clients.becon.types import (
    ControlOutcome,
    ControlResult,
    Facility,
    FacilityReading,
    Gateway,
    Site,
    TokenGrant,
)
from scheduler.clients.http import (
    body_excerpt,
    error_class_for_status,
    error_from_response,
    path_segment,
)
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import Batch, Control, FacilityKey
from scheduler.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)

log = structlog.get_logger("scheduler.clients.becon")

TITLE = "BECON"

# -- paths and headers (facts, except x-message-id which is ours) --------------

PREFIX = "/tms/v1.0/connect"
SERVICE_ID_HEADER = "x-lgtms-service-id"
SERVICE_KEY_HEADER = "x-lgtms-service-key"
#: Contract: "Later calls send it as x-lgtms-service-token".
TOKEN_HEADER = "x-lgtms-service-token"  # noqa: S105 (a header name, not a secret)
#: Ours: a trace id per call, quoted in errors (the vendor may ignore it).
MESSAGE_ID_HEADER = "x-message-id"

#: Contract: "At most 100 controls per call".
MAX_CONTROLS = 100
#: Contract: per-facility ``fail`` reasons that a retry cannot cure (the spec names
#: ``out_of_range``; the others are our reading of the vendor's vocabulary).
PERMANENT_REASONS = frozenset({"out_of_range", "not_supported", "not_found", "invalid"})
#: Contract: the envelope's success code.
SUCCESS = "0000"
#: Contract: a re-issued token is needed before this share of its life is spent.
RENEW_AT_SHARE = 0.9


def _seg(text: str) -> str:
    return path_segment(text, TITLE)


def servertime_path() -> str:
    return f"{PREFIX}/auth/servertime"


def token_path() -> str:
    return f"{PREFIX}/auth/token"


def sites_path() -> str:
    return f"{PREFIX}/site"


def gateways_path(site: str) -> str:
    return f"{PREFIX}/site/{_seg(site)}/gw"


def facilities_path(site: str, gateway: str) -> str:
    return f"{gateways_path(site)}/{_seg(gateway)}/facilities"


def gateway_state_path(site: str, gateway: str) -> str:
    return f"{facilities_path(site, gateway)}/state"


def gateway_state_params(types: Iterable[str] | None) -> dict[str, str] | None:
    """``?facility_types=IDU,AHU``; None asks for every type."""
    wanted = sorted(set(types or ()))
    return {"facility_types": ",".join(wanted)} if wanted else None


def control_path(site: str, gateway: str, facility_type: str) -> str:
    return f"{gateways_path(site)}/{_seg(gateway)}/facility/{_seg(facility_type)}"


def state_path(key: FacilityKey) -> str:
    return f"{control_path(key.site, key.gateway, key.facility_type)}/{_seg(key.facility_id)}/state"


# -- errors --------------------------------------------------------------------


class ShapeError(ValueError):
    """An answer in the success envelope whose ``data`` cannot be used."""


def error_class(http_status: int, code: str | None) -> type[ApiError]:
    """Contract: 5xx/429 retryable; 401/403 auth; 404 not found; other 4xx permanent.

    A failure code inside an HTTP 2xx answer is read by its first digits
    (``401x``/``403x`` auth, ``404x`` not found, ``5xxx`` retryable).
    """
    if http_status >= 300 or http_status < 200:
        return error_class_for_status(http_status)
    prefix = (code or "")[:3]
    if prefix in ("401", "403"):
        return AuthError
    if prefix == "404":
        return NotFoundError
    if prefix.startswith("5"):
        return RetryableApiError
    return PermanentApiError


def _code(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{value:04d}"
    return value.strip() if isinstance(value, str) and value.strip() else None


def envelope_data(
    response: httpx.Response, operation: str, message_id: str | None, *, quote_body: bool = True
) -> Any:
    """``data`` of a ``{"code": "0000", ...}`` answer; anything else raises its ApiError.

    Without an envelope a 2xx answer is retryable (a proxy's page, a cut
    body) and a failure is classed by its HTTP status. ``quote_body=False``
    keeps the body out of messages (the token call).
    """
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    code = _code(body.get("code")) if isinstance(body, Mapping) else None
    if isinstance(body, Mapping) and code == SUCCESS and 200 <= response.status_code < 300:
        return body.get("data")
    # Only a failure quotes the body: decoding it as text costs every answer CPU (issue 14).
    excerpt = body_excerpt(response) if quote_body else ""
    if isinstance(body, Mapping) and code is not None:
        message = body.get("message")
        raise error_from_response(
            TITLE,
            operation,
            response,
            code=code,
            message=message if isinstance(message, str) else excerpt,
            message_id=message_id,
            error_class=error_class(response.status_code, code),
        )
    if 200 <= response.status_code < 300:
        raise error_from_response(
            TITLE,
            operation,
            response,
            message=f"no BECON envelope in the answer: {excerpt!r}",
            message_id=message_id,
            error_class=RetryableApiError,
        )
    raise error_from_response(TITLE, operation, response, message=excerpt, message_id=message_id)


# -- authentication --------------------------------------------------------------


def hmac_sha256_signer(service_id: str, server_time_ms: int, key: str) -> str:
    """Contract's default signature: ``base64(HMAC-SHA256(key, f"{service_id}\\n{serverTime}"))``.

    ``key`` is the configured ``becon.secret_key``; its UTF-8 bytes are the
    HMAC key. A partner's own algorithm plugs in through ``becon.signer``.
    """
    message = f"{service_id}\n{server_time_ms}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def read_server_time(data: Any) -> int:
    """``data = {"serverTime": 1763826300123}`` (UTC epoch ms)."""
    value = _number(data.get("serverTime")) if isinstance(data, Mapping) else None
    if value is None:
        raise ShapeError("server time: no serverTime in the answer")
    return int(value)


def token_request_body(server_time_ms: int, signature: str) -> dict[str, Any]:
    return {"serverTime": server_time_ms, "signature": signature}


def read_token(data: Any) -> TokenGrant:
    """``data = {"accessToken": "...", "expiresIn": 86400}`` (seconds; 24 h when absent)."""
    token = data.get("accessToken") if isinstance(data, Mapping) else None
    if not isinstance(token, str) or not token:
        raise ShapeError("token: no accessToken in the answer")
    expires_in = _number(data.get("expiresIn"))
    seconds = 86400.0 if expires_in is None else max(expires_in, 0.0)
    return TokenGrant(SecretStr(token), timedelta(seconds=seconds))


# -- inventory -------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _items(data: Any, what: str, id_key: str) -> list[Mapping[str, Any]]:
    """The list items that carry ``id_key``; others are skipped with a warning."""
    if not isinstance(data, list):
        raise ShapeError(f"{what}: data is not a list")
    items = [i for i in data if isinstance(i, Mapping) and _text(i.get(id_key))]
    if len(items) < len(data):
        log.warning("becon.items_skipped", what=what, skipped=len(data) - len(items))
    return items


def read_sites(data: Any) -> tuple[Site, ...]:
    """``[{"siteCode", "siteName", "timezone"}]``."""
    return tuple(
        Site(str(_text(i["siteCode"])), _text(i.get("siteName")), _text(i.get("timezone")))
        for i in _items(data, "sites", "siteCode")
    )


def read_gateways(site: str, data: Any) -> tuple[Gateway, ...]:
    """``[{"gwId", "gwName", "connected"}]``."""
    return tuple(
        Gateway(
            site,
            str(_text(i["gwId"])),
            _text(i.get("gwName")),
            i["connected"] if isinstance(i.get("connected"), bool) else None,
        )
        for i in _items(data, f"gateways of {site}", "gwId")
    )


def read_facilities(site: str, gateway: str, data: Any) -> tuple[Facility, ...]:
    """``[{"facilityId", "facilityType", "name"}]``; an item without a type is skipped."""
    items = _items(data, f"facilities of {site}/{gateway}", "facilityId")
    return tuple(
        Facility(
            FacilityKey(site, gateway, str(_text(i["facilityType"])), str(_text(i["facilityId"]))),
            _text(i.get("name")),
        )
        for i in items
        if _text(i.get("facilityType"))
    )


# -- state -----------------------------------------------------------------------


def _range(value: object) -> tuple[float, float] | None:
    """``{"min": 18.0, "max": 30.0}``."""
    if not isinstance(value, Mapping):
        return None
    low, high = _number(value.get("min")), _number(value.get("max"))
    return None if low is None or high is None else (low, high)


def _unit(value: object) -> TempUnit | None:
    return TempUnit(value) if value in ("C", "F") else None


def read_state(
    site: str,
    gateway: str,
    data: Any,
    *,
    facility_type: str | None = None,
    message_id: str | None = None,
) -> FacilityReading:
    """One state object (Contract "State"): ``setTemp``/``setTempRange`` absent without a
    setpoint; ``unit`` applies to every temperature in it."""
    if not isinstance(data, Mapping) or not _text(data.get("facilityId")):
        raise ShapeError(f"state on {site}/{gateway}: no facilityId")
    kind = _text(data.get("facilityType")) or facility_type
    if kind is None:
        raise ShapeError(f"state of {data['facilityId']}: no facilityType")
    power, mode = _text(data.get("power")), _text(data.get("operationMode"))
    return FacilityReading(
        key=FacilityKey(site, gateway, kind, str(_text(data["facilityId"]))),
        power=power.lower() if power else None,
        mode=mode.lower() if mode else None,
        set_temp=_number(data.get("setTemp")),
        unit=_unit(data.get("unit")),
        set_temp_range=_range(data.get("setTempRange")),
        room_temp=_number(data.get("roomTemp")),
        message_id=message_id,
    )


def read_states(
    site: str, gateway: str, data: Any, message_id: str | None = None
) -> tuple[FacilityReading, ...]:
    """The gateway-wide state call: ``data`` is a list of state objects."""
    items = _items(data, f"states of {site}/{gateway}", "facilityId")
    return tuple(
        read_state(site, gateway, i, message_id=message_id)
        for i in items
        if _text(i.get("facilityType"))
    )


# -- control ---------------------------------------------------------------------


def control_body(controls: Iterable[Control]) -> dict[str, Any]:
    """``{"controls": [{"facilityId", "setTemp", "unit"}]}``: setpoints only, never power."""
    return {
        "controls": [
            {
                "facilityId": c.key.facility_id,
                "setTemp": float(c.set_temp),
                "unit": c.unit.value,
            }
            for c in controls
        ]
    }


def read_control_results(
    batch: Batch, data: Any, message_id: str | None
) -> tuple[ControlResult, ...]:
    """``data = {"results": [{"facilityId", "result": "success"|"fail", "reason"}]}``.

    One result per control of ``batch``, in its order: a facility the answer
    leaves out is ``unknown`` (its state tells); results for facilities we
    did not send are ignored with a warning.
    """
    results = data.get("results") if isinstance(data, Mapping) else None
    if not isinstance(results, list):
        raise ShapeError("control: no results list in the answer")
    by_id: dict[str, Mapping[str, Any]] = {}
    for item in results:
        if isinstance(item, Mapping) and _text(item.get("facilityId")):
            by_id[str(_text(item["facilityId"]))] = item
    sent = {c.key.facility_id for c in batch.controls}
    stray = sorted(set(by_id) - sent)
    if stray:
        log.warning("becon.control_stray_results", facilities=stray, message_id=message_id)
    return tuple(_result(c, by_id.get(c.key.facility_id), message_id) for c in batch.controls)


def _result(
    control: Control, item: Mapping[str, Any] | None, message_id: str | None
) -> ControlResult:
    if item is None:
        return ControlResult(control, "unknown", "not in the vendor's answer", message_id)
    word = str(item.get("result", "")).lower()
    reason = _text(item.get("reason"))
    outcome: ControlOutcome
    if word in ("success", "fail"):
        outcome = "success" if word == "success" else "fail"
    else:  # a word we do not know: the facility's state tells what happened
        outcome, reason = "unknown", f"result {item.get('result')!r}"
    if outcome == "fail" and reason is None:
        reason = "no reason given"
    if outcome == "fail" and reason in PERMANENT_REASONS:
        outcome = "refused"
    return ControlResult(control, outcome, reason, message_id)
