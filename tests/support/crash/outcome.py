"""What a crash run leaves behind: the database, the simulator's records, the run's journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scheduler.domain.intents import Intent
from scheduler.domain.lifecycle import Transition
from scheduler.store.events import EventSummary
from tests.support.crash.chaos import Chaos
from tests.support.crash.scenario import Scenario


@dataclass
class Outcome:
    """Everything the checks need, read after the daemon stopped."""

    scenario: Scenario
    chaos: Chaos
    events: dict[str, EventSummary]
    timelines: dict[str, list[Transition]]
    open_intents: list[Intent]
    #: Every request the DR service holds, with the body as POSTed (admin view).
    sim_requests: dict[str, dict[str, Any]]
    sim_calls: list[dict[str, Any]]
    facilities_before: list[dict[str, Any]]
    facilities_after: list[dict[str, Any]]
    controls: list[dict[str, Any]]
    #: (offset s, what the driver did): the run's own log, for reports.
    journal: list[tuple[float, str]]
    daemon_starts: int
    daemon_kills: int
    #: (offset s, exit code, last log line) of daemons that died without being killed.
    unexpected_exits: list[tuple[float, int, str]]
    #: (down, up) offsets of the database outages.
    outages: list[tuple[float, float]]
    #: (ready, died) offsets: when a daemon was up and past its start-up.
    up: list[tuple[float, float]]
    final_exit_code: int | None
    change_applied: bool | None
    timed_out: bool
    daemon_log: str
    db_sessions_ended: int = 0

    def journal_text(self) -> str:
        return "\n".join(f"{at:7.2f}s {what}" for at, what in self.journal)
