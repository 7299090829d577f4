"""Control batching and the restore schedule (scheduler.domain.hvac)."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import (
    Control,
    Controlled,
    FacilityKey,
    FacilityState,
    Mode,
    plan_control_batches,
    restore_schedule,
)

END = datetime(2026, 7, 15, 22, 0, tzinfo=UTC)
TEN_MINUTES = timedelta(minutes=10)


def keys(
    count: int, site: str = "S001", gateway: str = "GW-01", kind: str = "IDU"
) -> list[FacilityKey]:
    return [FacilityKey(site, gateway, kind, f"{kind}-{i:04d}") for i in range(count)]


def controls(facility_keys: list[FacilityKey]) -> list[Control]:
    return [Control(k, 26.0, TempUnit.C) for k in facility_keys]


# --- batching ---------------------------------------------------------------------------------


def test_one_group_is_cut_into_calls_of_at_most_100() -> None:
    batches = plan_control_batches(controls(keys(250)))
    assert [len(b.controls) for b in batches] == [100, 100, 50]
    assert {(b.site, b.gateway, b.facility_type) for b in batches} == {("S001", "GW-01", "IDU")}
    assert batches[0].controls[0].key.facility_id == "IDU-0000"
    assert batches[2].controls[-1].key.facility_id == "IDU-0249"


def test_one_call_per_gateway_and_type() -> None:
    mixed = keys(3, gateway="GW-02") + keys(2, kind="AHU") + keys(4) + keys(1, site="S000")
    batches = plan_control_batches(controls(mixed))
    assert [(b.site, b.gateway, b.facility_type, len(b.controls)) for b in batches] == [
        ("S000", "GW-01", "IDU", 1),
        ("S001", "GW-01", "AHU", 2),
        ("S001", "GW-01", "IDU", 4),
        ("S001", "GW-02", "IDU", 3),
    ]


def test_no_controls_no_calls() -> None:
    assert plan_control_batches([]) == []


def test_a_facility_twice_is_refused() -> None:
    twice = [*controls(keys(2)), Control(keys(1)[0], 25.0, TempUnit.C)]
    with pytest.raises(ValueError, match="IDU-0000 appears twice"):
        plan_control_batches(twice)


def test_call_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan_control_batches(controls(keys(1)), max_per_call=0)


facility_keys = st.builds(
    FacilityKey,
    st.sampled_from(["S001", "S002"]),
    st.sampled_from(["GW-01", "GW-02", "GW-03"]),
    st.sampled_from(["IDU", "AHU"]),
    st.integers(0, 400).map(lambda n: f"F{n:04d}"),
)


@given(st.sets(facility_keys, max_size=600), st.integers(1, 120), st.randoms(use_true_random=False))
def test_batches_are_grouped_bounded_complete_and_deterministic(
    key_set: set[FacilityKey], size: int, rnd: random.Random
) -> None:
    given_order = controls(sorted(key_set))
    batches = plan_control_batches(given_order, max_per_call=size)
    rnd.shuffle(given_order)
    assert plan_control_batches(given_order, max_per_call=size) == batches
    sent = [c for b in batches for c in b.controls]
    assert sorted(c.key for c in sent) == [c.key for c in sent] == sorted(key_set)
    per_group = Counter((k.site, k.gateway, k.facility_type) for k in key_set)
    assert len(batches) == sum(math.ceil(n / size) for n in per_group.values())
    for batch in batches:
        assert 1 <= len(batch.controls) <= size
        assert {(c.key.site, c.key.gateway, c.key.facility_type) for c in batch.controls} == {
            (batch.site, batch.gateway, batch.facility_type)
        }


# --- restore schedule -------------------------------------------------------------------------


def test_zero_stagger_restores_everything_at_the_window_end() -> None:
    schedule = restore_schedule(keys(5), END, timedelta(0))
    assert schedule == [(k, END) for k in keys(5)]


def test_few_facilities_get_one_instant_each_from_end_to_end_plus_stagger() -> None:
    schedule = restore_schedule(reversed(keys(5)), END, TEN_MINUTES)
    minutes = [(at - END) / timedelta(minutes=1) for _, at in schedule]
    assert minutes == [0, 2.5, 5, 7.5, 10]
    assert [k for k, _ in schedule] == keys(5)


def test_many_facilities_share_instants_in_equal_slices_of_few_gateways() -> None:
    fleet = [k for gw in ("GW-01", "GW-02", "GW-03") for k in keys(334, gateway=gw)]
    schedule = restore_schedule(fleet, END, TEN_MINUTES)
    per_instant = Counter(at for _, at in schedule)
    assert len(per_instant) == 21  # one every 30 s from END to END + 10 min
    assert set(per_instant.values()) <= {47, 48}  # 1002 / 21: flat
    for instant in per_instant:
        groups = {k.gateway for k, at in schedule if at == instant}
        assert len(groups) <= 2
    assert max(per_instant) == END + TEN_MINUTES


def test_duplicates_are_restored_once() -> None:
    assert restore_schedule(keys(2) * 2, END, TEN_MINUTES) == restore_schedule(
        keys(2), END, TEN_MINUTES
    )


def test_nothing_to_restore() -> None:
    assert restore_schedule([], END, TEN_MINUTES) == []


def test_spacing_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        restore_schedule(keys(2), END, TEN_MINUTES, min_spacing=timedelta(0))


@given(
    st.sets(facility_keys, max_size=500),
    st.integers(0, 3600).map(lambda s: timedelta(seconds=s)),
    st.randoms(use_true_random=False),
)
def test_restore_schedule_is_spread_ordered_and_bounded(
    key_set: set[FacilityKey], stagger: timedelta, rnd: random.Random
) -> None:
    given_order = list(key_set)
    schedule = restore_schedule(given_order, END, stagger)
    rnd.shuffle(given_order)
    assert restore_schedule(given_order, END, stagger) == schedule
    assert sorted(k for k, _ in schedule) == sorted(key_set)
    assert schedule == sorted(schedule, key=lambda item: (item[1], item[0]))
    assert all(END <= at <= END + stagger for _, at in schedule)
    if not schedule:
        return
    assert schedule[0][1] == END
    per_instant = Counter(at for _, at in schedule).values()
    assert max(per_instant) - min(per_instant) <= 1, "flat"
    instants = sorted({at for _, at in schedule})
    if len(instants) > 1:
        assert instants[-1] == END + stagger
        gaps = [b - a for a, b in itertools.pairwise(instants)]
        assert min(gaps) > timedelta(seconds=30) - timedelta(microseconds=1)


# --- value types ------------------------------------------------------------------------------


def test_state_key_and_range_check() -> None:
    state = FacilityState("IDU-1", "IDU", True, Mode.COOL, 24.0, TempUnit.C, (18.0, 30.0))
    assert state.key("S001", "GW-01") == FacilityKey("S001", "GW-01", "IDU", "IDU-1")
    assert str(state.key("S001", "GW-01")) == "S001/GW-01/IDU/IDU-1"
    with pytest.raises(ValueError, match="inverted"):
        FacilityState("IDU-1", "IDU", True, Mode.COOL, 24.0, TempUnit.C, (30.0, 18.0))


def test_controlled_must_change_something() -> None:
    with pytest.raises(ValueError, match="must change"):
        Controlled(keys(1)[0], 24.0, 24.0, TempUnit.C, Mode.COOL)
