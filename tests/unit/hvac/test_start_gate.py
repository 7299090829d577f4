"""``HvacController.start`` refuses on its own once the window is over (issue 10, bug 2).

Defence in depth behind the engine's check: the controller asks the same
rule (``scheduler.domain.outside.may_touch_outside``) with the window of the
event it is given, so no caller can send a DR setpoint after the end.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler.domain.lifecycle import Status
from tests.support.fakes.hvac import event, idu
from tests.support.harness.hvac_rig import Rig


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "not-prepared"])
@pytest.mark.parametrize("after_end", [timedelta(0), timedelta(seconds=30)], ids=["at", "after"])
async def test_start_at_or_after_the_end_sends_no_setpoint(
    prepared: bool, after_end: timedelta
) -> None:
    rig = Rig()
    rig.becon.add("S1", "GW1", idu("IDU-1", 74), idu("IDU-2", 75))
    plan = event()
    if prepared:
        await rig.prepare(plan)
    else:
        rig.store.add_event(plan, Status.ACTIVE)
    rig.clock.set(plan.end + after_end)
    await rig.hvac.start(plan, rig.now)
    await rig.run_until(plan.end + timedelta(minutes=30))
    assert rig.becon.puts == []
    assert await rig.hvac.due(rig.now) is None


async def test_start_inside_the_window_still_sends() -> None:
    rig = Rig()
    rig.becon.add("S1", "GW1", idu("IDU-1", 74))
    plan = event()
    await rig.prepare(plan)
    rig.clock.set(plan.end - timedelta(seconds=1))
    await rig.hvac.start(plan, rig.now)
    assert len(rig.becon.puts) == 1
