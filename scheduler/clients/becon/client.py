"""The BECON Connect API client (``/work/shared/specs/becon-connect-api.md``).

- **Auth**: server time → signature (the ``becon.signer`` plug-in, by default
  :func:`hmac_sha256_signer`) → token; the token is cached and re-issued at
  90 % of its life, one issue however many calls need it
  (:class:`~scheduler.clients.becon.auth.TokenCache`). A 401 re-issues once
  and repeats the call; a second 401 is an ``AuthError``.
- **Inventory and state**: sites, gateways, facilities; the state of one
  facility or of a whole gateway in one call.
- **Control**: :meth:`BeconClient.send_batch` sends one PUT (one gateway and
  facility type, at most 100 controls) and returns a :class:`ControlResult`
  per facility: a partly failed batch is a value, a failed call raises. The
  fan-out over many batches is HVAC control's (:mod:`scheduler.hvac.fanout`).

Every call carries the service id and key headers, and a fresh
``x-message-id`` quoted in errors; calls in flight are bounded by
``becon.max_concurrency`` and share one pooled connection; retries follow
the shared HTTP policy (:mod:`scheduler.clients.http`). Secrets (service
key, signing key, token) never appear in logs, errors or reprs. The JSON
shapes are "Contract" and live in :mod:`scheduler.clients.becon.contract`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpx
import structlog
from pydantic import SecretStr

from scheduler.clients.becon import contract
from scheduler.clients.becon.auth import Signer, TokenCache
from scheduler.clients.becon.contract import ShapeError, hmac_sha256_signer
from scheduler.clients.becon.types import (
    ControlResult,
    Facility,
    FacilityReading,
    Gateway,
    Site,
    TokenGrant,
)
from scheduler.clients.http import (
    ApiCaller,
    Call,
    Connection,
    OwnedClient,
    RetryPolicy,
    new_message_id,
)
from scheduler.clock import Clock, SystemClock
from scheduler.domain.hvac import Batch, FacilityKey
from scheduler.errors import AuthError, PermanentApiError

T = TypeVar("T")

log = structlog.get_logger("scheduler.clients.becon")

API = "becon"
TITLE = contract.TITLE


class BeconClient(OwnedClient):
    """BECON Connect over an ``httpx.AsyncClient`` (owned only when :meth:`connect` made it)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        service_id: str,
        service_key: SecretStr,
        secret_key: SecretStr,
        signer: Signer = hmac_sha256_signer,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 16,
    ) -> None:
        self._caller = ApiCaller(http, api=API, title=TITLE, retry=retry)
        self._service_id = service_id
        self._service_key = service_key
        self._secret_key = secret_key
        self._signer = signer
        self._slots = asyncio.Semaphore(max_concurrency)
        self.tokens = TokenCache(
            self._issue_token, clock or SystemClock(), renew_share=contract.RENEW_AT_SHARE
        )

    @classmethod
    def connect(
        cls,
        connection: Connection,
        *,
        service_id: str,
        service_key: SecretStr,
        secret_key: SecretStr,
        signer: Signer = hmac_sha256_signer,
        clock: Clock | None = None,
        max_concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> BeconClient:
        """A client with its own pooled connection (timeouts, limits, retries of ``connection``)."""
        return cls(
            connection.client(transport),
            service_id=service_id,
            service_key=service_key,
            secret_key=secret_key,
            signer=signer,
            clock=clock,
            retry=connection.retry,
            max_concurrency=max_concurrency,
        )._owning()

    async def aclose(self) -> None:
        await self.tokens.aclose()
        await super().aclose()

    # -- calls -------------------------------------------------------------

    def _headers(self, message_id: str, token: SecretStr | None) -> dict[str, str]:
        headers = {
            contract.SERVICE_ID_HEADER: self._service_id,
            contract.SERVICE_KEY_HEADER: self._service_key.get_secret_value(),
            contract.MESSAGE_ID_HEADER: message_id,
            "Accept": "application/json",
        }
        if token is not None:
            headers[contract.TOKEN_HEADER] = token.get_secret_value()
        return headers

    async def _send(
        self,
        endpoint: str,
        path: str,
        operation: str,
        read: Callable[[Any, str], T],
        *,
        token: SecretStr | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
        quote_body: bool = True,
    ) -> T:
        """One HTTP exchange, within the concurrency bound.

        ``read(data, message_id)`` turns the envelope's ``data`` into a value;
        a :class:`ShapeError` becomes a ``PermanentApiError`` quoting the message id.
        """
        message_id = new_message_id()
        method = endpoint.split()[0]
        headers = self._headers(message_id, token)
        call = Call(endpoint, method, path, operation, headers, body, params, message_id)

        def decode(response: httpx.Response) -> T:
            data = contract.envelope_data(response, operation, message_id, quote_body=quote_body)
            try:
                return read(data, message_id)
            except ShapeError as exc:
                raise PermanentApiError(
                    TITLE,
                    operation,
                    message=str(exc),
                    message_id=message_id,
                    http_status=response.status_code,
                ) from exc

        async with self._slots:
            return await self._caller.send(call, decode)

    async def _authorized(
        self,
        endpoint: str,
        path: str,
        operation: str,
        read: Callable[[Any, str], T],
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> T:
        """A call with the token, retried under the policy; a 401 re-issues the token once."""

        async def attempt() -> T:
            token = await self.tokens.get()
            try:
                return await self._send(
                    endpoint, path, operation, read, token=token, body=body, params=params
                )
            except AuthError as exc:
                if exc.http_status != 401:
                    raise
                log.info("becon.token_refused", operation=operation, message_id=exc.message_id)
                token = await self.tokens.reissue(token)
            return await self._send(
                endpoint, path, operation, read, token=token, body=body, params=params
            )

        return await self._caller.retrying(attempt)

    async def _issue_token(self) -> TokenGrant:
        """Server time, signature, token (spec "Authentication sequence").

        Not retried here: the call that needed the token retries, and the
        next attempt starts from a fresh server time (Contract: one older
        than 5 minutes is refused).
        """
        server_time = await self._send(
            "GET /auth/servertime",
            contract.servertime_path(),
            "server time",
            lambda data, _: contract.read_server_time(data),
        )
        try:
            signature = self._signer(
                self._service_id, server_time, self._secret_key.get_secret_value()
            )
        except Exception as exc:  # a plug-in: any failure; its text may quote the key
            raise AuthError(
                TITLE, "token issue", message=f"becon.signer failed: {type(exc).__name__}"
            ) from None
        return await self._send(
            "POST /auth/token",
            contract.token_path(),
            "token issue",
            lambda data, _: contract.read_token(data),
            body=contract.token_request_body(server_time, signature),
            quote_body=False,
        )

    # -- inventory and state -----------------------------------------------

    async def sites(self) -> tuple[Site, ...]:
        return await self._authorized(
            "GET /site",
            contract.sites_path(),
            "list sites",
            lambda data, _: contract.read_sites(data),
        )

    async def gateways(self, site: str) -> tuple[Gateway, ...]:
        return await self._authorized(
            "GET /site/{site}/gw",
            contract.gateways_path(site),
            f"list gateways of {site}",
            lambda data, _: contract.read_gateways(site, data),
        )

    async def facilities(self, site: str, gateway: str) -> tuple[Facility, ...]:
        return await self._authorized(
            "GET /site/{site}/gw/{gw}/facilities",
            contract.facilities_path(site, gateway),
            f"list facilities of {site}/{gateway}",
            lambda data, _: contract.read_facilities(site, gateway, data),
        )

    async def state(self, key: FacilityKey) -> FacilityReading:
        """The state of one facility (use :meth:`gateway_states` for many)."""
        return await self._authorized(
            "GET /site/{site}/gw/{gw}/facility/{type}/{id}/state",
            contract.state_path(key),
            f"state of {key}",
            lambda data, message_id: contract.read_state(
                key.site, key.gateway, data, facility_type=key.facility_type, message_id=message_id
            ),
        )

    async def gateway_states(
        self, site: str, gateway: str, types: Iterable[str] | None = None
    ) -> tuple[FacilityReading, ...]:
        """Every facility's state on a gateway (of ``types`` only, if given) in one call."""
        return await self._authorized(
            "GET /site/{site}/gw/{gw}/facilities/state",
            contract.gateway_state_path(site, gateway),
            f"states of {site}/{gateway}",
            lambda data, message_id: contract.read_states(site, gateway, data, message_id),
            params=contract.gateway_state_params(types),
        )

    # -- control -------------------------------------------------------------

    async def send_batch(self, batch: Batch) -> tuple[ControlResult, ...]:
        """One control PUT; the call's failure raises its ``ApiError`` (results are values).

        Retried like any call: a setpoint is absolute, so a PUT repeated after
        a lost answer sets the same value again.
        """
        if len(batch.controls) > contract.MAX_CONTROLS:
            raise ValueError(f"{len(batch.controls)} controls: at most {contract.MAX_CONTROLS}")
        where = f"{batch.site}/{batch.gateway}/{batch.facility_type}"
        results = await self._authorized(
            "PUT /site/{site}/gw/{gw}/facility/{type}",
            contract.control_path(batch.site, batch.gateway, batch.facility_type),
            f"control {len(batch.controls)} on {where}",
            lambda data, message_id: contract.read_control_results(batch, data, message_id),
            body=contract.control_body(batch.controls),
        )
        log.info(
            "becon.controlled",
            site=batch.site,
            gateway=batch.gateway,
            facility_type=batch.facility_type,
            controls=len(results),
            failed=sum(1 for r in results if not r.ok),
            message_id=results[0].message_id if results else None,
        )
        return results


__all__ = ["BeconClient"]
