"""The simulator's admin endpoints (``/_sim/...``), over HTTP, as the harness uses them.

Plain HTTP rather than the in-process :class:`~scheduler.simulator.app.Simulator`
object, so the same harness works against ``drsched simulate`` in another
process (the soak script) and the checks read exactly what an operator
could read with ``curl``.
"""

from __future__ import annotations

from typing import Any

import httpx


class SimAdmin:
    """Admin calls to one simulator; ``url`` is its root (``http://127.0.0.1:PORT``)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str) -> Any:
        response = self._http.get(path)
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, body: Any = None) -> httpx.Response:
        return self._http.post(path, json=body if body is not None else {})

    # -- DR ------------------------------------------------------------------

    def dr_requests(self) -> dict[str, dict[str, Any]]:
        """Every request the DR service holds, by request id (status by its clock)."""
        return {r["requestID"]: r for r in self._get("/_sim/dr/requests")}

    def dr_request(self, request_id: str) -> dict[str, Any] | None:
        """One request with the body as POSTed; None if the service does not have it."""
        response = self._http.get(f"/_sim/dr/requests/{request_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def dr_calls(self) -> list[dict[str, Any]]:
        """Every DR call that reached the service (method, request id, status, code, time)."""
        calls: list[dict[str, Any]] = self._get("/_sim/dr/calls")
        return calls

    def remote_cancel(self, request_id: str) -> httpx.Response:
        """The DR service cancels the request (status 9); 409 once it is completed."""
        return self._post(f"/_sim/dr/requests/{request_id}/cancel")

    # -- faults --------------------------------------------------------------

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        response = self._post("/_sim/faults", settings)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def faults(self) -> dict[str, Any]:
        data: dict[str, Any] = self._get("/_sim/faults")
        return data

    # -- BECON ---------------------------------------------------------------

    def has_becon(self) -> bool:
        return bool(self._get("/_sim/health").get("becon"))

    def facilities(self) -> list[dict[str, Any]]:
        """Every facility's state (the Contract's state plus site, gateway, name)."""
        found: list[dict[str, Any]] = self._get("/_sim/becon/facilities")
        return found

    def controls(self) -> list[dict[str, Any]]:
        """Every control PUT the BECON service received, with what it carried."""
        found: list[dict[str, Any]] = self._get("/_sim/becon/controls")
        return found

    def expire_tokens(self) -> int:
        response = self._post("/_sim/becon/tokens/expire")
        response.raise_for_status()
        return int(response.json()["expired"])
