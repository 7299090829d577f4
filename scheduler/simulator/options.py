"""Knobs of the simulator, shared by its DR and BECON halves and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from scheduler.clock import Clock, SystemClock


@dataclass
class SimOptions:
    seed: int = 0
    # faults, applied to every vendor route (not to /_sim)
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_rate: float = 0.0  # share of calls answered HTTP 500
    timeout_rate: float = 0.0  # share of calls that hang past any client timeout
    timeout_after_rate: float = 0.0  # share handled by the service, then hung (response lost)
    timeout_hang_s: float = 30.0
    # DR Requests API
    dr_service_id: str = "sim-service"
    dr_token: str = "sim-token"
    standby_lead: timedelta = timedelta(seconds=30)
    # BECON Connect
    becon_service_id: str = "sim-service"
    becon_service_key: str = "sim-service-key"
    becon_secret_key: str = "sim-key"
    token_ttl_s: int = 86400
    sites: int = 1
    gateways: int = 2  # per site
    facilities: int = 10  # per gateway
    clock: Clock = field(default_factory=SystemClock)
