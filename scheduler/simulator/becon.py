"""The BECON Connect service, in memory, per the spec and its Contract (at ``/tms/v1.0/connect``).

Answers are ``{"code", "message", "data"}`` envelopes; ``"0000"`` is success.
The spec fixes the HTTP statuses; the codes are the Contract's (``4011``)
or ours, one per cause:

======  ======  ==============================================================
HTTP    code    cause
======  ======  ==============================================================
412     4120    ``x-lgtms-service-id`` or ``x-lgtms-service-key`` missing
401     4013    unknown service id or wrong service key
401     4010    ``x-lgtms-service-token`` missing, unknown or expired
401     4011    token request: ``serverTime`` more than 5 minutes from now
401     4012    token request: wrong signature
400     4001    body not the Contract's shape (or more than 100 controls: 4002)
400     4000    invalid facility type
403     4030    access to the site denied (``POST /_sim/becon/access``)
404     4040    unknown site, gateway, facility or path
405     4050    method not allowed
======  ======  ==============================================================

Signatures use the Contract's default algorithm with ``becon_secret_key``;
tokens live ``token_ttl_s`` by the injected clock (``SimOptions.clock``).
A control PUT answers per facility (``success``, or ``fail`` with
``out_of_range``, ``offline``, ``not_supported``, ``not_found``, ``invalid``).

Admin endpoints (mounted at ``/_sim/becon``, no headers): see
:mod:`scheduler.simulator.becon_admin`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from scheduler.clock import from_epoch, to_epoch_ms
from scheduler.simulator.becon_admin import admin_routes
from scheduler.simulator.becon_inventory import (
    FACILITY_TYPES,
    ControlRefused,
    SimFacility,
    SimInventory,
    generate,
)
from scheduler.simulator.faults import waited
from scheduler.simulator.options import SimOptions

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
MAX_CONTROLS = 100
SERVER_TIME_SKEW = timedelta(minutes=5)

Handler = Callable[[Request], Awaitable[Any]]


class Refusal(Exception):
    """An error answer: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


def envelope(data: Any) -> JSONResponse:
    return JSONResponse({"code": "0000", "message": "OK", "data": data})


def failure(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def signature(service_id: str, server_time_ms: int, key: str) -> str:
    """The Contract's default: base64(HMAC-SHA256(key, f"{service_id}\\n{serverTime}"))."""
    digest = hmac.new(key.encode(), f"{service_id}\n{server_time_ms}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refusal(400, "4001", "invalid body: not valid JSON") from None


class BeconSim:
    """The account's state and routes; :meth:`routes` are relative to ``/tms/v1.0/connect``."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.inventory: SimInventory = generate(options)
        self.tokens: dict[str, datetime] = {}
        self.denied: set[str] = set()
        self.controls: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()

    def now(self) -> datetime:
        return self.options.clock.now()

    def reset(self) -> None:
        """Back to the generated inventory: no tokens, no log, no denied site."""
        self.inventory = generate(self.options)
        self.tokens.clear()
        self.denied.clear()
        self.controls.clear()
        self.counts.clear()

    def routes(self) -> list[BaseRoute]:
        gateway = "/site/{site}/gw/{gw}"
        return [
            self._route("/auth/servertime", "GET", self._servertime, token=False),
            self._route("/auth/token", "POST", self._token, token=False),
            self._route("/site", "GET", self._sites),
            self._route("/site/{site}/gw", "GET", self._gateways),
            self._route(gateway + "/facilities", "GET", self._facilities),
            self._route(gateway + "/facilities/state", "GET", self._gateway_states),
            self._route(gateway + "/facility/{ftype}/{fid}/state", "GET", self._state),
            Route(gateway + "/facility/{ftype}", self._logged_control, methods=ANY_METHOD),
            Route("/{rest:path}", self._unknown, methods=ANY_METHOD),
        ]

    def admin_routes(self) -> list[BaseRoute]:
        return admin_routes(self)

    # -- the common checks ---------------------------------------------------

    def _route(self, path: str, method: str, handler: Handler, *, token: bool = True) -> Route:
        return Route(path, self._endpoint(method, handler, token=token), methods=ANY_METHOD)

    def _endpoint(
        self, method: str, handler: Handler, *, token: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                if request.method != method:
                    raise Refusal(405, "4050", f"method {request.method} not allowed")
                self._check_service(request)
                if token:
                    self._check_token(request)
                return envelope(await handler(request))
            except Refusal as refusal:
                return failure(refusal.status, refusal.code, refusal.message)

        return endpoint

    def _check_service(self, request: Request) -> None:
        """Spec: every call carries the service id and key (412 when missing)."""
        service_id = request.headers.get("x-lgtms-service-id", "")
        service_key = request.headers.get("x-lgtms-service-key", "")
        for name, value in (
            ("x-lgtms-service-id", service_id),
            ("x-lgtms-service-key", service_key),
        ):
            if not value.strip():
                raise Refusal(412, "4120", f"required header missing: {name}")
        same_key = hmac.compare_digest(
            service_key.encode(), self.options.becon_service_key.encode()
        )
        if service_id != self.options.becon_service_id or not same_key:
            raise Refusal(401, "4013", "not authorized: unknown service id or wrong service key")

    def _check_token(self, request: Request) -> None:
        token = request.headers.get("x-lgtms-service-token", "")
        if not token.strip():
            raise Refusal(401, "4010", "not authorized: token missing")
        expires = self.tokens.get(token)
        if expires is None:
            raise Refusal(401, "4010", "not authorized: token invalid")
        if self.now() >= expires:
            raise Refusal(401, "4010", "not authorized: token expired")

    def _site(self, request: Request) -> str:
        site = str(request.path_params["site"])
        if site not in self.inventory.sites:
            raise Refusal(404, "4040", f"site not found: {site}")
        if site in self.denied:
            raise Refusal(403, "4030", f"access to site {site} denied")
        return site

    def _gateway(self, request: Request) -> tuple[str, str]:
        site, gateway = self._site(request), str(request.path_params["gw"])
        if gateway not in self.inventory.gateways[site]:
            raise Refusal(404, "4040", f"gateway not found: {site}/{gateway}")
        return site, gateway

    def _group(self, request: Request) -> dict[str, SimFacility]:
        return self.inventory.facilities[self._gateway(request)]

    @staticmethod
    def _facility_type(text: str) -> str:
        if text not in FACILITY_TYPES:
            raise Refusal(400, "4000", f"invalid facility type: {text}")
        return text

    # -- authentication ------------------------------------------------------

    async def _servertime(self, request: Request) -> Any:
        self.counts["servertime"] += 1
        return {"serverTime": to_epoch_ms(self.now())}

    async def _token(self, request: Request) -> Any:
        self.counts["token_requests"] += 1
        body = await _json_body(request)
        server_time = body.get("serverTime") if isinstance(body, dict) else None
        signed = body.get("signature") if isinstance(body, dict) else None
        if isinstance(server_time, bool) or not isinstance(server_time, int):
            raise Refusal(400, "4001", "invalid body: serverTime must be epoch milliseconds")
        if not isinstance(signed, str):
            raise Refusal(400, "4001", "invalid body: signature must be a string")
        skew = from_epoch(server_time) - self.now()
        if skew > SERVER_TIME_SKEW:
            raise Refusal(401, "4011", "server time is more than 5 minutes in the future")
        if -skew > SERVER_TIME_SKEW:
            raise Refusal(401, "4011", "server time expired: older than 5 minutes")
        options = self.options
        expected = signature(options.becon_service_id, server_time, options.becon_secret_key)
        if not hmac.compare_digest(signed.encode(), expected.encode()):
            raise Refusal(401, "4012", "invalid signature")
        token = f"sim-{len(self.tokens) + 1}-{secrets.token_urlsafe(12)}"
        self.tokens[token] = self.now() + timedelta(seconds=options.token_ttl_s)
        self.counts["tokens_issued"] += 1
        return {"accessToken": token, "expiresIn": options.token_ttl_s}

    # -- inventory and state -------------------------------------------------

    async def _sites(self, request: Request) -> Any:
        return list(self.inventory.sites.values())

    async def _gateways(self, request: Request) -> Any:
        return list(self.inventory.gateways[self._site(request)].values())

    async def _facilities(self, request: Request) -> Any:
        return [f.listing() for f in self._group(request).values()]

    async def _gateway_states(self, request: Request) -> Any:
        group = self._group(request)
        wanted = request.query_params.get("facility_types", "")
        types = {self._facility_type(t.strip()) for t in wanted.split(",") if t.strip()}
        return [f.state() for f in group.values() if not types or f.facility_type in types]

    async def _state(self, request: Request) -> Any:
        group = self._group(request)
        facility_type = self._facility_type(request.path_params["ftype"])
        facility = group.get(request.path_params["fid"])
        if facility is None or facility.facility_type != facility_type:
            raise Refusal(404, "4040", f"facility not found: {request.path_params['fid']}")
        return facility.state()

    # -- control -------------------------------------------------------------

    async def _control(self, request: Request) -> Any:
        group = self._group(request)
        facility_type = self._facility_type(request.path_params["ftype"])
        body = await _json_body(request)
        entries = body.get("controls") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise Refusal(400, "4001", "invalid body: controls must be a list of objects")
        if len(entries) > MAX_CONTROLS:
            raise Refusal(400, "4002", f"too many controls: {len(entries)} > {MAX_CONTROLS}")
        results = [self._apply(group, facility_type, entry) for entry in entries]
        return {"results": results}

    @staticmethod
    def _apply(group: dict[str, SimFacility], facility_type: str, entry: dict[str, Any]) -> Any:
        facility_id = entry.get("facilityId")
        facility = group.get(facility_id) if isinstance(facility_id, str) else None
        try:
            if not isinstance(facility_id, str):
                raise ControlRefused("invalid")
            if facility is None or facility.facility_type != facility_type:
                raise ControlRefused("not_found")
            facility.apply(entry)
        except ControlRefused as refused:
            return {"facilityId": facility_id, "result": "fail", "reason": refused.reason}
        return {"facilityId": facility_id, "result": "success"}

    async def _logged_control(self, request: Request) -> Response:
        """The PUT, recorded for ``/_sim/becon/controls`` with what it carried and got."""
        response = await self._endpoint("PUT", self._control)(request)
        if request.method != "PUT":
            return response
        try:
            sent = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            sent = None
        answer = json.loads(bytes(response.body))
        data = answer.get("data") or {}
        now = self.now()
        self.controls.append(
            {
                "seq": len(self.controls) + 1,
                "time": now.isoformat(),
                # when it reached the simulator, before its latency (``faults.waited``)
                "arrived": (now - timedelta(seconds=waited(request.scope))).isoformat(),
                "method": request.method,
                "site": request.path_params["site"],
                "gateway": request.path_params["gw"],
                "facility_type": request.path_params["ftype"],
                "controls": sent.get("controls") if isinstance(sent, dict) else sent,
                "results": data.get("results", []),
                "status": response.status_code,
                "code": answer.get("code"),
                "message_id": request.headers.get("x-message-id"),
            }
        )
        return response

    async def _unknown(self, request: Request) -> Response:
        return failure(404, "4040", f"not found: {request.url.path}")
