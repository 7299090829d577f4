"""A tick's store work is batched (issue 14): its intents in one transaction, not one each.

200 submissions due at the same instant were 600 transactions one after the
other (intent, content, outcome); the last POST left two seconds late.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.domain.lifecycle import Status
from tests.integration.store.test_together import transactions_of_intents
from tests.support.fakes.engine import plan_event
from tests.support.harness.engine import POLICY, world

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
EVENTS = 20


async def test_a_tick_of_n_submissions_writes_their_intents_in_one_transaction(
    db_url: str,
) -> None:
    async with world(db_url, T0) as w:
        start = T0 + POLICY.submit_lead + timedelta(minutes=5)
        w.apply(*(plan_event(f"ev{n:02d}", start) for n in range(EVENTS)))
        w.clock.set(start - POLICY.submit_lead)  # every submission is due now
        transactions = transactions_of_intents(w.store.engine)
        await w.engine.tick()
        assert transactions  # the INSERTs of every intent (one executemany, or one each)
        assert len(set(transactions)) == 1  # all in one transaction
        assert {w.status(f"ev{n:02d}") for n in range(EVENTS)} == {Status.PENDING}
        assert w.store.open_intents() == []  # every outcome recorded after its POST
        for n in range(EVENTS):
            assert await w.calls("POST", f"ev{n:02d}") == 1
