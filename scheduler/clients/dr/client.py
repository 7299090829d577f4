"""The DR Requests API client (``/work/shared/specs/dr-requests-api.md``).

Every "Contract" assumption about this API lives in
:mod:`scheduler.clients.dr.contract`, so it can be changed in one place when
the vendor answers; this module sends the calls.

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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from scheduler.clients.dr.contract import (
    TITLE,
    envelope_data,
    read_request,
    same_request,
)
from scheduler.clients.dr.types import CreateResult, DeleteResult, DrRequest, request_body
from scheduler.clients.http import (
    ApiCaller,
    Call,
    Connection,
    OwnedClient,
    RetryPolicy,
    new_message_id,
    path_segment,
)
from scheduler.domain.events import PlanEvent
from scheduler.domain.lifecycle import Status
from scheduler.errors import (
    AlreadyExistsError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)

log = structlog.get_logger("scheduler.clients.dr")

API = "dr"


class DrApiClient(OwnedClient):
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
        return cls(
            connection.client(transport),
            service_id=service_id,
            service_token=service_token,
            country_code=country_code,
            retry=connection.retry,
        )._owning()

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


__all__ = ["DrApiClient"]
