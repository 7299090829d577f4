"""``together`` for the in-memory stores: each call alone, as before batching."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def one_by_one(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Each call's result, or the exception it raised (a fake has no transaction to share)."""
    results: list[Any] = []
    for call in calls:
        try:
            results.append(call())
        except Exception as error:  # that call's own, as the SQL store's savepoint gives it
            results.append(error)
    return results
