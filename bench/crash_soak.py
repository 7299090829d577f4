"""Crash soak: the crash scenario of ``tests/support/crash`` for many seeds, SQLite and PostgreSQL.

Each round runs the 20-event scenario (about a minute of real time) with the
real ``drsched run`` SIGKILLed on the round's seeded schedule, against a
fresh ``drsched simulate`` process and a fresh database, then checks it
exactly as ``tests/crash/test_crash.py`` does. One line per round; a round
with problems leaves its full report (journal, daemon log tail) in
``--workdir``. The exit status is 1 if any round found a problem.

Run from the repository root::

    .venv/bin/python -m bench.crash_soak --rounds 10 --seed 100 --db both --faults both \\
        --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test

``--pg-url`` names a server (and a database to connect to for administration):
each PostgreSQL round creates its own database there and drops it after.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from bench._support import database, simulator
from tests.support.crash.checks import verify
from tests.support.crash.driver import RunConfig, run
from tests.support.crash.scenario import VENS, Timing


@dataclass
class Round:
    db: str
    seed: int
    faulty: bool
    seconds: float = 0.0
    kills: int = 0
    starts: int = 0
    as_scripted: int = 0
    notes: int = 0
    problems: int = 0

    def line(self) -> str:
        mode = "faults" if self.faulty else "kills "
        return (
            f"{self.db:8} seed {self.seed:6} {mode}  {self.seconds:5.0f} s  kills {self.kills:2}  "
            f"starts {self.starts:2}  as scripted {self.as_scripted:2}/20  "
            f"notes {self.notes:2}  problems {self.problems}"
        )


def play(db: str, seed: int, faulty: bool, pg_url: str | None, root: Path) -> Round:
    workdir = root / f"{db}-{'faults' if faulty else 'kills'}-{seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    result = Round(db, seed, faulty)
    began = time.monotonic()
    timing = Timing()
    flags = ["--seed", str(seed), "--standby-lead", f"{timing.standby_lead:g}s"]
    flags += ["--gateways", str(len(VENS)), "--facilities", "10"]
    with simulator(flags, workdir) as sim_url, database(db, pg_url, workdir) as url:
        outcome = run(RunConfig(url, sim_url, workdir, seed=seed, faulty=faulty))
    verdict = verify(outcome)
    result.seconds = time.monotonic() - began
    result.kills, result.starts = outcome.daemon_kills, outcome.daemon_starts
    result.as_scripted, result.notes = verdict.as_scripted, len(verdict.notes)
    result.problems = len(verdict.problems)
    report = [
        result.line(),
        "problems:",
        *verdict.problems,
        "notes:",
        *verdict.notes,
        outcome.chaos.describe(),
        "journal:",
        outcome.journal_text(),
        "daemon log (tail):",
        outcome.daemon_log,
    ]
    (workdir / "report.txt").write_text("\n".join(report) + "\n")
    return result


def quiet() -> None:
    """The harness's own schema upgrade logs through structlog: only warnings here."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main() -> int:
    quiet()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="seeds per database and mode")
    parser.add_argument("--seed", type=int, default=1000, help="first seed (then +1 per round)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--faults", choices=["off", "on", "both"], default="off")
    parser.add_argument("--pg-url", help="PostgreSQL server URL (needed for --db postgres/both)")
    parser.add_argument("--workdir", type=Path, help="where rounds keep their files and reports")
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not args.pg_url:
        parser.error("--db postgres needs --pg-url")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.faults]
    root = args.workdir or Path(tempfile.mkdtemp(prefix="drsched-soak-"))
    print(f"reports under {root}", flush=True)
    rounds: list[Round] = []
    for number in range(args.rounds):
        for db in dbs:
            for faulty in modes:
                rounds.append(play(db, args.seed + number, faulty, args.pg_url, root))
                print(rounds[-1].line(), flush=True)
    failed = [r for r in rounds if r.problems]
    total_kills = sum(r.kills for r in rounds)
    print(
        f"{len(rounds)} rounds, {total_kills} SIGKILLs, "
        f"{sum(r.as_scripted for r in rounds)}/{20 * len(rounds)} events as scripted, "
        f"{sum(r.notes for r in rounds)} notes, {len(failed)} round(s) with problems"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
