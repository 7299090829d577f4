"""Request ids are collision-free by construction (issue 10, bug 8).

A first submission uses the event id; a re-submission ``<id>-r<N>``. Plan ids
may not end like that (``scheduler.plans.context.check_id``), so no request id
of one event can equal one of another's, whatever the ids and revisions.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.request_ids import is_reserved_id, request_id_for
from scheduler.plans.model import ID_CHARS, ID_MAX

_PLAN_ID = re.compile(f"[{ID_CHARS}]{{1,{ID_MAX}}}")
ids = st.from_regex(_PLAN_ID, fullmatch=True).filter(lambda i: not is_reserved_id(i))
#: Ids built to look alike: ``peak``, ``peak-r2``, ``peak-r2-r3`` ...
lookalikes = st.builds(
    lambda base, parts: base + "".join(f"-r{p}" for p in parts),
    st.sampled_from(["peak", "a", "peak-r", "x-r0"]),
    st.lists(st.integers(0, 12), max_size=3),
)
revision = st.integers(1, 10_000)


def _requests(event_id: str, revisions: list[int]) -> set[str]:
    previous = None
    made = set()
    for rev in revisions:
        previous = request_id_for(event_id, rev, previous)
        made.add(previous)
    return made


@given(st.one_of(ids, lookalikes), st.one_of(ids, lookalikes), st.lists(revision, min_size=1))
def test_two_valid_events_never_share_a_request_id(a: str, b: str, revs: list[int]) -> None:
    if a == b or is_reserved_id(a) or is_reserved_id(b):
        return
    assert not _requests(a, [1, *revs]) & _requests(b, [1, *revs])


def test_the_issue_case_is_a_reserved_id() -> None:
    assert request_id_for("peak", 2, "peak") == "peak-r2"
    assert is_reserved_id("peak-r2")
    assert is_reserved_id("peak-r2-r10")
    assert not is_reserved_id("peak-r")
    assert not is_reserved_id("peak-rx2")
    assert not is_reserved_id("peak-r2-20260601")  # a program's event
    assert is_reserved_id("peak-r02")  # leading zeros are reserved too
