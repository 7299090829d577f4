"""The DR Requests service, in memory, as the DR spec describes it (mounted at ``/dr``).

Statuses follow the injected clock (``SimOptions.clock``): pending (0) until
``standby_lead`` before the start, standby (1), active (2) during the window,
completed (3) after it; canceled (9) once the admin endpoint cancels it.

Errors, per the spec's table (the spec leaves some choices to us):

- a required header missing, or ``x-country-code`` not two letters → 400, 4101;
- a token of the wrong shape → 400, 4103; a wrong token or unknown service → 401, 4201;
- an invalid body → 400, 4102 with ``field: message`` (:mod:`.dr_validate`);
- a ``requestID`` the service already has → 409, 4309; an unknown one → 404, 4302;
- DELETE of a request that is no longer pending → 400, 4000 (the spec says
  only that it is not allowed); a deleted request is gone (GET then 404);
- any other method → 405, code 405.

Admin endpoints (mounted at ``/_sim/dr``, no headers needed): ``GET /requests``,
``GET /requests/{id}``, ``POST /requests/{id}/cancel`` (remote cancel → 9),
``GET /log`` (alias ``/calls``: every call with method, path, request_id,
time, HTTP status, code, message_id), ``GET|POST /quirks`` (answer GETs the
odd ways the reference allows), ``POST /reset``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from scheduler.clock import from_epoch, to_epoch_ms
from scheduler.simulator.dr_validate import validate_request
from scheduler.simulator.options import SimOptions

PENDING, STANDBY, ACTIVE, COMPLETED, CANCELED = 0, 1, 2, 3, 9
STATUS_NAMES = {0: "pending", 1: "standby", 2: "active", 3: "completed", 9: "canceled"}
#: Routed to our handlers so a wrong method gets the spec's 405 envelope.
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
REQUIRED_HEADERS = ("x-service-id", "x-service-token", "x-country-code")
#: Ways of answering GET that the reference allows and the client must read.
QUIRKS = ("status_as_string", "targets_as_object", "insert_ts_seconds", "signal_type_capitalized")


def envelope(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"code": 2000, "data": data}, status_code=status)


def failure(http_status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=http_status)


@dataclass
class StoredRequest:
    body: dict[str, Any]
    inserted: datetime
    canceled: bool = False

    @property
    def request_id(self) -> str:
        return str(self.body["requestID"])

    def status(self, now: datetime, options: SimOptions) -> int:
        """The status the clock gives it (canceled sticks)."""
        if self.canceled:
            return CANCELED
        start, end = from_epoch(self.body["startTs"]), from_epoch(self.body["endTs"])
        if now >= end:
            return COMPLETED
        if now >= start:
            return ACTIVE
        return STANDBY if now >= start - options.standby_lead else PENDING


class DrSim:
    """The service's state and routes; :meth:`routes` are relative to ``/dr``."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.requests: dict[str, StoredRequest] = {}
        self.calls: list[dict[str, Any]] = []
        self.quirks: dict[str, bool] = dict.fromkeys(QUIRKS, False)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/requests", self._collection, methods=ANY_METHOD),
            Route("/requests/{request_id:path}", self._item, methods=ANY_METHOD),
        ]

    def admin_routes(self) -> list[BaseRoute]:
        return [
            Route("/requests", self._admin_list, methods=["GET"]),
            Route("/requests/{request_id}/cancel", self._admin_cancel, methods=["POST"]),
            Route("/requests/{request_id}", self._admin_one, methods=["GET"]),
            Route("/log", self._admin_log, methods=["GET"]),
            Route("/calls", self._admin_log, methods=["GET"]),
            Route("/quirks", self._admin_quirks, methods=["GET", "POST"]),
            Route("/reset", self._admin_reset, methods=["POST"]),
        ]

    # -- vendor routes -----------------------------------------------------

    async def _collection(self, request: Request) -> Response:
        if request.method != "POST":
            return self._logged(request, None, failure(405, 405, "method not allowed"))
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        request_id = body.get("requestID") if isinstance(body, dict) else None
        rid = request_id if isinstance(request_id, str) else None
        return self._logged(request, rid, self._create(request, body))

    async def _item(self, request: Request) -> Response:
        request_id = request.path_params["request_id"]
        if request.method == "GET":
            response = self._checked(request) or self._get(request_id)
        elif request.method == "DELETE":
            response = self._checked(request) or self._delete(request_id)
        else:
            response = failure(405, 405, "method not allowed")
        return self._logged(request, request_id, response)

    def _checked(self, request: Request) -> JSONResponse | None:
        """The header error, if any (spec "Common request headers")."""
        headers = request.headers
        for name in REQUIRED_HEADERS:
            if not headers.get(name, "").strip():
                return failure(400, 4101, f"invalid header: {name} is required")
        country = headers["x-country-code"]
        if len(country) != 2 or not country.isalpha():
            return failure(400, 4101, "invalid header: x-country-code must be ISO 3166 alpha-2")
        token = headers["x-service-token"]
        if len(token) > 512 or not token.isprintable() or " " in token:
            return failure(400, 4103, "invalid token")
        if headers["x-service-id"] != self.options.dr_service_id or token != self.options.dr_token:
            return failure(401, 4201, "token invalid or expired")
        return None

    def _create(self, request: Request, body: Any) -> JSONResponse:
        refused = self._checked(request)
        if refused is not None:
            return refused
        if body is None:
            return failure(400, 4102, "invalid body: not valid JSON")
        problems = validate_request(body)
        if problems:
            return failure(400, 4102, f"invalid body: {problems[0]}")
        request_id = str(body["requestID"])
        if request_id in self.requests:
            return failure(409, 4309, f"request already exists: {request_id}")
        self.requests[request_id] = StoredRequest(dict(body), self.options.clock.now())
        return envelope({"requestID": request_id})

    def _get(self, request_id: str) -> JSONResponse:
        stored = self.requests.get(request_id)
        if stored is None:
            return failure(404, 4302, f"request not found: {request_id}")
        return envelope(self._as_read(stored))

    def _delete(self, request_id: str) -> JSONResponse:
        stored = self.requests.get(request_id)
        if stored is None:
            return failure(404, 4302, f"request not found: {request_id}")
        status = stored.status(self.options.clock.now(), self.options)
        if status != PENDING:
            name = STATUS_NAMES[status]
            return failure(
                400, 4000, f"bad request: only a pending request can be deleted ({name})"
            )
        del self.requests[request_id]
        return envelope({"id": request_id})

    def _as_read(self, stored: StoredRequest) -> dict[str, Any]:
        """GET's ``data``: the fields sent plus status and insertTs (with any quirks)."""
        data = dict(stored.body)
        status = stored.status(self.options.clock.now(), self.options)
        data["status"] = str(status) if self.quirks["status_as_string"] else status
        inserted = to_epoch_ms(stored.inserted)
        data["insertTs"] = inserted // 1000 if self.quirks["insert_ts_seconds"] else inserted
        if self.quirks["targets_as_object"]:
            targets = data["eventTargets"]
            data["eventTargets"] = {"venID": [t["venID"] for t in targets]}
        if self.quirks["signal_type_capitalized"]:
            data["eventSignals"] = [
                {**s, "signalType": s["signalType"].replace("x-load", "x-Load")}
                for s in data["eventSignals"]
            ]
        return data

    def _logged(self, request: Request, request_id: str | None, response: JSONResponse) -> Response:
        """Record the call for ``/_sim/dr/log`` (tests check nothing was POSTed twice)."""
        code = json.loads(bytes(response.body)).get("code")
        self.calls.append(
            {
                "seq": len(self.calls) + 1,
                "time": self.options.clock.now().isoformat(),
                "method": request.method,
                "path": request.url.path,
                "request_id": request_id,
                "status": response.status_code,
                "code": code,
                "message_id": request.headers.get("x-message-id"),
            }
        )
        return response

    # -- admin routes ------------------------------------------------------

    def summary(self, stored: StoredRequest) -> dict[str, Any]:
        status = stored.status(self.options.clock.now(), self.options)
        return {
            "requestID": stored.request_id,
            "status": status,
            "status_name": STATUS_NAMES[status],
            "vtnID": stored.body["vtnID"],
            "startTs": stored.body["startTs"],
            "endTs": stored.body["endTs"],
            "insertTs": to_epoch_ms(stored.inserted),
        }

    async def _admin_list(self, request: Request) -> Response:
        return JSONResponse([self.summary(s) for s in self.requests.values()])

    async def _admin_one(self, request: Request) -> Response:
        stored = self.requests.get(request.path_params["request_id"])
        if stored is None:
            return JSONResponse({"error": "no such request"}, status_code=404)
        return JSONResponse({**self.summary(stored), "body": stored.body})

    async def _admin_cancel(self, request: Request) -> Response:
        """The DR service cancels the request (status 9); a completed one stays completed."""
        stored = self.requests.get(request.path_params["request_id"])
        if stored is None:
            return JSONResponse({"error": "no such request"}, status_code=404)
        if stored.status(self.options.clock.now(), self.options) == COMPLETED:
            return JSONResponse({"error": "already completed"}, status_code=409)
        stored.canceled = True
        return JSONResponse(self.summary(stored))

    async def _admin_log(self, request: Request) -> Response:
        wanted = request.query_params.get("request_id")
        calls = [c for c in self.calls if wanted is None or c["request_id"] == wanted]
        return JSONResponse(calls)

    async def _admin_quirks(self, request: Request) -> Response:
        if request.method == "POST":
            changes = await request.json()
            unknown = sorted(set(changes) - set(QUIRKS)) if isinstance(changes, dict) else ["?"]
            if unknown:
                return JSONResponse({"error": f"unknown quirks {unknown}"}, status_code=400)
            self.quirks.update({k: bool(v) for k, v in changes.items()})
        return JSONResponse(self.quirks)

    async def _admin_reset(self, request: Request) -> Response:
        self.requests.clear()
        self.calls.clear()
        self.quirks = dict.fromkeys(QUIRKS, False)
        return JSONResponse({"reset": True})
