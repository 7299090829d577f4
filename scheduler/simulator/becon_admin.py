"""Admin endpoints of the BECON simulator (mounted at ``/_sim/becon``, no headers needed).

- ``GET /facilities``: every facility's state (the Contract's state object
  plus ``site``, ``gateway``, ``name``, ``offline``);
  ``GET /facilities/{site}/{gw}/{id}``: one.
- ``POST /facilities/{site}/{gw}/{id}``: change it as an occupant would:
  any of ``setTemp`` (+ ``unit``), ``power``, ``operationMode``, and
  ``offline`` (true: its controls fail with ``offline``). 400 with the
  reason (``out_of_range``...) when the change is refused.
- ``GET /controls`` (alias ``/log``): every control PUT with its controls,
  results, time, HTTP status, code and ``x-message-id``;
  ``POST /controls/reset`` empties it.
- ``GET /tokens``: counts (server time calls, token requests, tokens
  issued, tokens still valid); ``POST /tokens/expire``: every token expires now.
- ``POST /access`` ``{"site": "S001", "denied": true}``: calls on that site
  get 403 (``false`` gives access back).
- ``POST /reset``: back to the generated inventory, no tokens, empty log.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from scheduler.simulator.becon_inventory import ControlRefused, SimFacility

if TYPE_CHECKING:
    from scheduler.simulator.becon import BeconSim

FACILITY = "/facilities/{site}/{gw}/{fid}"


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def facility_view(facility: SimFacility) -> dict[str, Any]:
    return {
        "site": facility.site,
        "gateway": facility.gateway,
        "name": facility.name,
        "offline": facility.offline,
        **facility.state(),
    }


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def admin_routes(sim: BeconSim) -> list[BaseRoute]:
    """The admin routes over ``sim``'s state."""

    def find(request: Request) -> SimFacility | None:
        params = request.path_params
        return sim.inventory.find(params["fid"], params["site"], params["gw"])

    async def facilities(request: Request) -> Response:
        return JSONResponse([facility_view(f) for f in sim.inventory.all_facilities()])

    async def facility(request: Request) -> Response:
        found = find(request)
        if found is None:
            return _error("no such facility", 404)
        if request.method == "POST":
            refused = _occupant_change(found, await _body(request))
            if refused is not None:
                return _error(refused)
        return JSONResponse(facility_view(found))

    async def controls(request: Request) -> Response:
        return JSONResponse(sim.controls)

    async def controls_reset(request: Request) -> Response:
        dropped = len(sim.controls)
        sim.controls.clear()
        return JSONResponse({"reset": True, "dropped": dropped})

    async def tokens(request: Request) -> Response:
        now = sim.now()
        valid = sum(1 for expires in sim.tokens.values() if now < expires)
        return JSONResponse({**{k: sim.counts[k] for k in _COUNTS}, "valid": valid})

    async def tokens_expire(request: Request) -> Response:
        now = sim.now()
        expired = sum(1 for expires in sim.tokens.values() if now < expires)
        sim.tokens = dict.fromkeys(sim.tokens, now)
        return JSONResponse({"expired": expired})

    async def access(request: Request) -> Response:
        body = await _body(request)
        site = body.get("site") if body else None
        if body is None or site not in sim.inventory.sites:
            return _error("body: {site: <a known site code>, denied: true|false}")
        (sim.denied.add if body.get("denied", True) else sim.denied.discard)(site)
        return JSONResponse({"denied": sorted(sim.denied)})

    async def reset(request: Request) -> Response:
        sim.reset()
        return JSONResponse({"reset": True})

    return [
        Route("/facilities", facilities, methods=["GET"]),
        Route(FACILITY, facility, methods=["GET", "POST"]),
        Route("/controls", controls, methods=["GET"]),
        Route("/log", controls, methods=["GET"]),
        Route("/controls/reset", controls_reset, methods=["POST"]),
        Route("/tokens", tokens, methods=["GET"]),
        Route("/tokens/expire", tokens_expire, methods=["POST"]),
        Route("/access", access, methods=["POST"]),
        Route("/reset", reset, methods=["POST"]),
    ]


_COUNTS = ("servertime", "token_requests", "tokens_issued")


def _occupant_change(facility: SimFacility, body: dict[str, Any] | None) -> str | None:
    """Apply an occupant's change; the reason it was refused, or None."""
    if body is None:
        return "body: a JSON object"
    offline = body.pop("offline", None)
    if offline is not None and not isinstance(offline, bool):
        return "offline: true or false"
    try:
        changes = facility.changes(body) if body else {}
    except ControlRefused as refused:
        return refused.reason
    for key, value in changes.items():
        setattr(facility, key, value)
    if offline is not None:
        facility.offline = offline
    return None
