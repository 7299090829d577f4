"""Request ids at the DR service: one per submission, never shared between events.

A first submission uses the event id; a re-submission (a change while
pending) ``<id>-r<N>`` for revision N, since the DR service keeps deleted ids
and answers a reused one with 409. Ids ending in ``-r<digits>`` are reserved
for re-submissions: a plan id may not end so (``plans.context.check_id``).
Then no request id of one event equals one of another's (issue 10, bug 8):
``<a>-r<N>`` parses back to exactly one ``a`` and ``N``, and never equals a
plan id.
"""

from __future__ import annotations

import re

#: The suffix only re-submissions carry.
_RESERVED = re.compile(r"-r[0-9]+\Z")


def is_reserved_id(event_id: str) -> bool:
    """True for an id shaped like a re-submission's request id: no event may have it."""
    return _RESERVED.search(event_id) is not None


def request_id_for(event_id: str, revision: int, previous_request_id: str | None) -> str:
    """``<id>`` for the first submission, ``<id>-r<N>`` for a re-submission of revision N.

    Pure and total (the decision core calls it every tick): a reserved id is
    refused where events come in, not here.
    """
    if previous_request_id is None:
        return event_id
    return f"{event_id}-r{revision}"
