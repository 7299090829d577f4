"""Both vendor clouds as one Starlette app.

Layout (the DR client's ``base_url`` is ``http://host:port/dr``; BECON's is
``http://host:port``):

- ``/dr/...``                 DR Requests API (:mod:`.dr`)
- ``/tms/v1.0/connect/...``   BECON Connect API (:mod:`.becon`)
- ``/_sim/dr/...``, ``/_sim/becon/...``  their admin endpoints
- ``/_sim/faults``            fault settings (:mod:`.faults`), ``/_sim/health``

Faults apply to the vendor routes only. ``create_app(options)`` builds it;
the :class:`Simulator` behind it is ``app.state.simulator``.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from scheduler.simulator.dr import DrSim
from scheduler.simulator.faults import FaultMiddleware, Faults
from scheduler.simulator.options import SimOptions

DR_PREFIX = "/dr"
BECON_PREFIX = "/tms/v1.0/connect"


class VendorSim(Protocol):
    """The shape both halves share: vendor routes and admin routes."""

    def routes(self) -> list[BaseRoute]: ...

    def admin_routes(self) -> list[BaseRoute]: ...


def _becon(options: SimOptions) -> VendorSim | None:
    """The BECON half, built separately; None until ``simulator/becon.py`` exists."""
    try:
        module: Any = importlib.import_module("scheduler.simulator.becon")
    except ModuleNotFoundError as exc:
        if exc.name != "scheduler.simulator.becon":
            raise
        return None
    sim: VendorSim = module.BeconSim(options)
    return sim


class Simulator:
    """The simulator's halves, its faults and the app routing to them."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.dr = DrSim(options)
        self.becon = _becon(options)
        self.faults = Faults(options)
        self.app = Starlette(
            routes=self._routes(),
            middleware=[Middleware(FaultMiddleware, faults=self.faults)],
        )
        self.app.state.simulator = self

    def _routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/_sim/health", self._health, methods=["GET"]),
            Route("/_sim/faults", self.faults.endpoint, methods=["GET", "POST"]),
            Mount("/_sim/dr", routes=self.dr.admin_routes()),
            Mount(DR_PREFIX, routes=self.dr.routes()),
        ]
        if self.becon is not None:
            routes.append(Mount("/_sim/becon", routes=self.becon.admin_routes()))
            routes.append(Mount(BECON_PREFIX, routes=self.becon.routes()))
        return routes

    async def _health(self, request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "dr": True, "becon": self.becon is not None, "now": self._now()}
        )

    def _now(self) -> str:
        return self.options.clock.now().isoformat()


def create_app(options: SimOptions | None = None) -> Starlette:
    """The simulator as an ASGI app (``httpx.ASGITransport(app=...)`` in tests)."""
    return Simulator(options or SimOptions()).app
