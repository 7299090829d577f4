"""HVAC control as the daemon wires it from the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from scheduler.config import Config, DatabaseConfig, HvacConfig, HvacTarget
from scheduler.config_values import settings_from
from scheduler.engine.hvac import NoHvac
from scheduler.hvac.controller import HvacController
from scheduler.wiring import VendorClients, wired


def _config(url: str, **hvac: object) -> Config:
    return Config(database=DatabaseConfig(url=url), hvac=HvacConfig(**hvac))


def test_settings_follow_the_config(sqlite_url: str) -> None:
    settings = settings_from(_config(sqlite_url, override="reassert", auto_mode="cool"))
    assert (settings.override, settings.auto_mode) == ("reassert", "cool")
    assert settings.max_concurrency == 16
    assert settings.verify_interval == timedelta(minutes=5)


def test_restore_slots_scale_with_the_stagger(sqlite_url: str) -> None:
    def spacing(stagger: timedelta) -> timedelta:
        return settings_from(_config(sqlite_url, restore_stagger=stagger)).restore_spacing

    assert spacing(timedelta(minutes=10)) == timedelta(seconds=30)
    assert spacing(timedelta(hours=1)) == timedelta(seconds=30)
    assert spacing(timedelta(minutes=2)) == timedelta(seconds=6)
    assert spacing(timedelta(seconds=2)) == timedelta(seconds=1)


async def test_no_targets_no_hvac(sqlite_url: str) -> None:
    async with wired(_config(sqlite_url)) as parts:
        assert isinstance(parts.engine.hvac, NoHvac)


async def test_targets_build_the_controller(sqlite_url: str) -> None:
    target = HvacTarget(ven="CE-02", site="S001", gateway="GW-01")
    async with wired(_config(sqlite_url, targets=[target])) as parts:
        assert isinstance(parts.engine.hvac, HvacController)
        assert await parts.engine.hvac.due(parts.engine.clock.now()) is None


@dataclass
class Pool:
    opened: list[float] = field(default_factory=list)

    async def preconnect(self, within: float) -> int:
        self.opened.append(within)
        return 1


async def test_a_window_start_opens_both_pools_a_submission_only_the_dr_one() -> None:
    dr, becon = Pool(), Pool()
    pools = VendorClients(dr, becon)  # type: ignore[arg-type]  # a client's preconnect alone
    await pools.open_ahead(window=False, within=0.5)
    assert (dr.opened, becon.opened) == ([0.5], [])
    await pools.open_ahead(window=True, within=0.5)
    assert (dr.opened, becon.opened) == ([0.5, 0.5], [0.5])
    alone = VendorClients(dr)  # type: ignore[arg-type]  # HVAC control off
    await alone.open_ahead(window=True, within=0.5)
    assert dr.opened == [0.5, 0.5, 0.5]


async def test_the_daemon_s_engine_opens_its_clients_pools(sqlite_url: str) -> None:
    target = HvacTarget(ven="CE-02", site="S001", gateway="GW-01")
    async with wired(_config(sqlite_url, targets=[target])) as parts:
        pools = parts.engine._pools
        assert isinstance(pools, VendorClients)
        assert pools.becon is not None
