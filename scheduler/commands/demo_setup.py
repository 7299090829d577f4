"""The demos' config: a temporary SQLite database, the simulator's URLs, short leads.

Shared by ``drsched demo`` and ``drsched demo --openadr`` (which builds on the
first), so neither demo module imports the other.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from scheduler.commands import demo_hvac
from scheduler.config import BeconConfig, Config, DatabaseConfig, DrApiConfig

#: Events are submitted this long before their start (24 h in production).
SUBMIT_LEAD = timedelta(seconds=5)


def demo_config(tmp: Path, dr_base_url: str, becon_base_url: str) -> Config:
    return Config(
        database=DatabaseConfig(url=f"sqlite:///{tmp / 'demo.db'}"),
        dr_api=DrApiConfig(
            base_url=dr_base_url, submit_lead=SUBMIT_LEAD, retry_total=timedelta(seconds=5)
        ),
        becon=BeconConfig(base_url=becon_base_url, retry_total=timedelta(seconds=5)),
        hvac=demo_hvac.demo_hvac_config(),
    )
