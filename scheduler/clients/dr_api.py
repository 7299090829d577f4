"""The DR Requests API client (``/work/shared/specs/dr-requests-api.md``).

Every "Contract" assumption about this API lives in this module, in the
section below, so it can be changed in one place when the vendor answers.

- ``create`` POSTs a :class:`~scheduler.domain.events.PlanEvent`; it is
  idempotent (see :meth:`DrApiClient.create`) and returns :class:`CreateResult`.
- ``get`` returns a :class:`DrRequest` read tolerantly, and raises
  ``NotFoundError`` on 404: for a request we deleted, that means canceled.
- ``delete`` returns :class:`DeleteResult`; a 404 is not an error but
  ``already_gone=True`` (a retried DELETE whose first try landed, or a
  request the service already dropped): either way the request is canceled.

Errors are ``scheduler.errors`` ones carrying the vendor's code and message
verbatim and the ``x-message-id`` we sent; the service token never appears in
logs, errors or reprs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Self

import httpx
import structlog
from pydantic import SecretStr

from scheduler.clients.dr_types import CreateResult, DeleteResult, DrRequest, request_body
from scheduler.clients.http import (
    ApiCaller,
    Call,
    Connection,
    RetryPolicy,
    body_excerpt,
    error_class_for_status,
    error_from_response,
    new_message_id,
    path_segment,
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

log = structlog.get_logger("scheduler.clients.dr_api")

API = "dr"
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


# -- the client ----------------------------------------------------------------


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


class DrApiClient:
    """The DR Requests API over an ``httpx.AsyncClient``.

    Every call sends ``x-service-id``, ``x-service-token``, ``x-country-code``,
    ``Accept`` and a fresh ``x-message-id`` (logged with its outcome and quoted
    in errors), and is retried under ``retry``. The client owns ``http`` only
    when :meth:`connect` made it (then use it as ``async with``).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        service_id: str,
        service_token: SecretStr,
        country_code: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if base_url is not None:
            http.base_url = httpx.URL(base_url)
        self._caller = ApiCaller(http, api=API, title=TITLE, retry=retry)
        self._service_id = service_id
        self._token = service_token
        self._country_code = country_code
        self._owns_http = False

    @classmethod
    def connect(
        cls,
        connection: Connection,
        *,
        service_id: str,
        service_token: SecretStr,
        country_code: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> DrApiClient:
        """A client with its own pooled connection (timeouts, limits, retries of ``connection``)."""
        client = cls(
            connection.client(transport),
            service_id=service_id,
            service_token=service_token,
            country_code=country_code,
            retry=connection.retry,
        )
        client._owns_http = True
        return client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._caller.client.aclose()

    def __repr__(self) -> str:
        base_url = str(self._caller.client.base_url)
        return f"DrApiClient(base_url={base_url!r}, service_id={self._service_id!r})"

    def _call(self, endpoint: str, path: str, operation: str, body: Any = None) -> Call:
        """One call with the common headers and a fresh ``x-message-id``."""
        message_id = new_message_id()
        headers = {
            "x-service-id": self._service_id,
            "x-service-token": self._token.get_secret_value(),
            "x-country-code": self._country_code,
            "x-message-id": message_id,
            "Accept": "application/json",
        }
        method = endpoint.split()[0]
        return Call(endpoint, method, path, operation, headers, body, message_id=message_id)

    async def _send(self, call: Call) -> Mapping[str, Any]:
        return await self._caller.send(
            call, lambda response: envelope_data(response, call.operation, call.message_id)
        )

    # -- GET ---------------------------------------------------------------

    async def get(self, request_id: str) -> DrRequest:
        """The request as the service has it.

        ``NotFoundError`` on 404: for a request we deleted, that means
        canceled (``DELETED_STATUS``); for one we never sent, that it is not there.
        """
        return await self._caller.retrying(lambda: self._get_once(request_id))

    async def _get_once(self, request_id: str) -> DrRequest:
        call = self._call("GET /requests/{id}", _path(request_id), f"get {request_id}")
        request = read_request(await self._send(call), request_id, call.message_id)
        if request.status is None:
            log.warning(
                "dr.status_unknown",
                request_id=request_id,
                raw_status=request.raw_status,
                message_id=call.message_id,
            )
        return request

    # -- DELETE ------------------------------------------------------------

    async def delete(self, request_id: str) -> DeleteResult:
        """Delete a pending request. A 404 means it is already gone: ``already_gone=True``.

        The service refuses once the request left ``pending``: that is a
        ``PermanentApiError`` with the vendor's code.
        """
        return await self._caller.retrying(lambda: self._delete_once(request_id))

    async def _delete_once(self, request_id: str) -> DeleteResult:
        call = self._call("DELETE /requests/{id}", _path(request_id), f"delete {request_id}")
        try:
            await self._send(call)
        except NotFoundError:
            log.info("dr.delete_already_gone", request_id=request_id, message_id=call.message_id)
            return DeleteResult(request_id, already_gone=True, message_id=call.message_id)
        return DeleteResult(request_id, already_gone=False, message_id=call.message_id)

    # -- POST --------------------------------------------------------------

    async def create(self, event: PlanEvent, request_id: str) -> CreateResult:
        """Submit ``event`` as ``request_id``, at most once.

        Algorithm (DESIGN "Submission ... Idempotent"; DR spec Contract):

        1. POST. ``2000`` → ``created``.
        2. A retryable failure (timeout, reset, 5xx, 429) may have reached the
           service: before POSTing again, the next attempt GETs the id. Found
           and the same request (window and VTN) → ``existing``; found and
           different → ``AlreadyExistsError``; 404 → POST again.
        3. A 409 "already exists" → GET: the same request → ``existing``; a
           different one → ``AlreadyExistsError`` naming both.
        4. Any other 4xx → ``PermanentApiError`` (not retried).

        Attempts and waits are bounded by the retry policy; when it gives up
        the last error is raised and the caller reconciles later with a GET.
        """
        body = request_body(event, request_id)
        maybe_landed = False

        async def attempt() -> CreateResult:
            nonlocal maybe_landed
            if maybe_landed:
                found = await self._find(request_id)
                if found is not None:
                    return self._existing(found, event, request_id, None)
            try:
                return await self._post(body, request_id)
            except RetryableApiError:
                maybe_landed = True
                raise
            except AlreadyExistsError as exc:
                found = await self._get_once(request_id)
                result = self._existing(found, event, request_id, exc)
                if found.status is Status.ACTIVE and not maybe_landed:
                    raise _history_missing(request_id, exc) from None
                return result

        return await self._caller.retrying(attempt)

    async def _post(self, body: dict[str, Any], request_id: str) -> CreateResult:
        call = self._call("POST /requests", "/requests", f"create {request_id}", body)
        await self._send(call)
        log.info("dr.created", request_id=request_id, message_id=call.message_id)
        return CreateResult(request_id, "created", call.message_id)

    async def _find(self, request_id: str) -> DrRequest | None:
        try:
            return await self._get_once(request_id)
        except NotFoundError:
            return None

    def _existing(
        self,
        found: DrRequest,
        event: PlanEvent,
        request_id: str,
        conflict: AlreadyExistsError | None,
    ) -> CreateResult:
        if not same_request(found, event, request_id):
            raise AlreadyExistsError(
                TITLE,
                f"create {request_id}",
                code=conflict.code if conflict else None,
                message=(
                    f"request {request_id} already exists for a different event "
                    f"(vtn {found.vtn_id}, {_window(found.start, found.end)}; "
                    f"ours: vtn {event.vtn_id}, {_window(event.start, event.end)})"
                ),
                message_id=conflict.message_id if conflict else found.message_id,
                http_status=conflict.http_status if conflict else None,
            )
        log.info(
            "dr.create_resolved",
            request_id=request_id,
            status=found.status_label,
            after="409" if conflict else "ambiguous failure",
            message_id=found.message_id,
        )
        return CreateResult(request_id, "existing", found.message_id, found)


def _history_missing(request_id: str, conflict: AlreadyExistsError) -> PermanentApiError:
    """A first POST answered 409 for a request already active: the DR service has it
    from an earlier submission this database holds no record of (a lost or replaced
    database). Its facilities may already sit at their DR setpoints, so reading them
    now would store those as "originals": control is refused (issue 16, finding 3)."""
    return PermanentApiError(
        TITLE,
        f"create {request_id}",
        code=conflict.code,
        message=(
            f"request {request_id} is already active at the DR service but this database "
            "holds no record of submitting it (a lost or replaced database?): HVAC control "
            "is not started for it; check its facilities' setpoints by hand"
        ),
        message_id=conflict.message_id,
        http_status=conflict.http_status,
    )


def _path(request_id: str) -> str:
    return f"/requests/{path_segment(request_id, TITLE)}"


def _window(start: datetime | None, end: datetime | None) -> str:
    def text(instant: datetime | None) -> str:
        return instant.isoformat() if instant else "?"

    return f"{text(start)} – {text(end)}"


__all__ = [
    "CODE_ERRORS",
    "DELETED_STATUS",
    "CreateResult",
    "DeleteResult",
    "DrApiClient",
    "DrRequest",
    "error_class",
    "read_request",
    "request_body",
]
