"""Where an event came from, as stored in ``events.source``; who owns it.

A plan file's event records ``file:line``; an OpenADR VTN's records
``openadr <vtn id> <event id> mod <n>``. ``plan apply`` owns only the former:
it never removes or changes an event it did not write.
"""

from __future__ import annotations

OPENADR_PREFIX = "openadr "


def openadr_source(vtn_id: str, event_id: str, modification: int) -> str:
    return f"{OPENADR_PREFIX}{vtn_id} {event_id} mod {modification}"


def owned_by_plan(source: str) -> bool:
    """True for a plan file's event (``file:line``, or empty for older rows)."""
    return not source.startswith(OPENADR_PREFIX)
