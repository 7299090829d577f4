"""The real ``drsched run``, SIGKILLed at seeded random moments, on SQLite and PostgreSQL.

Each test runs the 20-event scenario of :mod:`tests.support.crash.scenario` in real
time (about a minute on a quiet machine: the windows are seconds long) against
the simulator on a real socket, with a fixed seed so CI always replays the
same schedule. Every window, delay and allowance is stretched by the
machine's pace (:mod:`tests.support.pace`: a busy machine starts a daemon, and
runs a CLI call, several times slower), and so is the timeout.
``bench/crash_soak.py`` runs many seeds. PostgreSQL runs need CI=true or
DRSCHED_TEST_PG_URL (see tests/support/databases.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background
from tests.support.crash.checks import Verdict, verify
from tests.support.crash.driver import RunConfig, run
from tests.support.crash.outcome import Outcome
from tests.support.crash.scenario import VENS, Timing
from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.realtime, pytest.mark.timeout(240)]

SEED = 20261127
FAULTY_SEED = 7
#: Below this, the machine was too loaded for the daemon to get past its
#: start-ups between kills, and the run proved little: fail, saying so.
MIN_AS_SCRIPTED = 10


def sim_options(seed: int, timing: Timing) -> SimOptions:
    """One BECON gateway per VEN of the scenario (``hvac_targets``)."""
    return SimOptions(
        seed=seed,
        standby_lead=timedelta(seconds=timing.standby_lead),
        gateways=len(VENS),
        facilities=10,
    )


@pytest.fixture
def timing() -> Timing:
    return Timing.at_pace(pace().factor)


@pytest.fixture
def sim(timing: Timing) -> Iterator[Running]:
    with serve_in_background(sim_options(SEED, timing)) as running:
        yield running


def report(outcome: Outcome, verdict: Verdict) -> str:
    return "\n".join(
        [
            f"{len(verdict.problems)} problem(s):",
            *verdict.problems,
            f"{len(verdict.notes)} note(s):",
            *verdict.notes,
            f"{verdict.as_scripted} of {len(outcome.scenario.events)} events as scripted",
            "",
            f"pace: windows x{outcome.scenario.timing.factor:.2f} ({pace().describe()})",
            f"{outcome.chaos.describe()}",
            f"starts {outcome.daemon_starts}, kills {outcome.daemon_kills}",
            "journal:",
            outcome.journal_text(),
            "daemon log (tail):",
            outcome.daemon_log,
        ]
    )


def checked(outcome: Outcome, workdir: Path) -> Verdict:
    """Verify; the full report is also left in ``workdir/report.txt``."""
    verdict = verify(outcome)
    (workdir / "report.txt").write_text(report(outcome, verdict))
    return verdict


def test_sigkill_at_random_moments(
    db_url: str, sim: Running, timing: Timing, tmp_path: Path
) -> None:
    outcome = run(RunConfig(db_url, sim.url, tmp_path, seed=SEED, timing=timing))
    verdict = checked(outcome, tmp_path)
    assert not verdict.problems, report(outcome, verdict)
    assert outcome.daemon_kills >= 4, report(outcome, verdict)
    assert verdict.as_scripted >= MIN_AS_SCRIPTED, "too loaded to mean much\n" + report(
        outcome, verdict
    )


def test_sigkill_under_faults(db_url: str, sim: Running, timing: Timing, tmp_path: Path) -> None:
    config = RunConfig(db_url, sim.url, tmp_path, seed=FAULTY_SEED, faulty=True, timing=timing)
    outcome = run(config)
    verdict = checked(outcome, tmp_path)
    assert not verdict.problems, report(outcome, verdict)
    assert "latency-on" in outcome.journal_text()
    assert verdict.as_scripted >= MIN_AS_SCRIPTED, "too loaded to mean much\n" + report(
        outcome, verdict
    )
