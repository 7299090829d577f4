"""Which known bug of issue 10 a violation most likely is (for the teeth table and triage).

A heuristic on the invariant's name, its message and the trace; a new kind
of failure comes out as ``new: <invariant>``. Once the fixes are merged,
every seed passes and this module only names what a regression looks like.
"""

from __future__ import annotations

from tests.sim.invariants import Violation


def classify(violation: Violation, trace: list[str]) -> str:
    name, text = violation.name, str(violation)
    log = "\n".join(trace)
    if name == "every timeline is a chain" or (
        name == "no request no local event owns" and "its apply raced a tick" in log
    ):
        return "bug 9: plan apply wrote what it decided from a status that moved"
    if name == "setpoint within the event's bounds":
        return "rounding: no grid point inside the bounds"
    if name in ("no request owned by two events", "requestID POSTed twice") and "-r" in text:
        return "bug 8: re-submission id collides"
    if name in ("every event terminal at the end", "events agree with the DR service") and (
        "-r" in text
    ):
        return "bug 8: re-submission id collides"  # its twin lost its request
    if name == "one event per facility" or "appears twice in one control plan" in text:
        return "bug 4: two events hold one facility"
    if name == "nothing sent after cancel":
        if "POST" in text:
            return "bug 6: cancel while submitting still POSTs"
        return "bug 3: an admin's cancel starts HVAC"
    if name == "DR setpoint outside the window":
        return "bug 2: DR setpoints after the window (or the stored revision's window)"
    if name == "HVAC control started in the window":
        event_id = text.split(": ", 1)[1].split(" ", 1)[0]
        if f"hvac.call_failed event_id={event_id}" in log:
            return "bug 7: one transient error loses control for the window"
        if log.count("daemon starts") > 1:
            return "bug 1: a restart mid-window never starts HVAC control"
        return f"new: {name}"
    if name in ("no open intent at the end", "no facility left at a DR setpoint"):
        if "restoring" in text and ("narrowed" in log or "removed from BECON" in log):
            return "bug 10: a refused restore retried forever"
        if "database write failure" in log:
            return "bug 5: a failed write leaves facilities at their DR setpoint"
    return f"new: {name}"
