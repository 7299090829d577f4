"""``plan validate`` + ``plan apply`` of ~20,000 events, then the unchanged re-apply.

The plan is bench_plan_load's: 80 weekday programs over a year, one VEN each.
Each run starts from an empty database (``db upgrade`` is not timed), times
load + apply as ``drsched plan apply`` does them, then the same again on the
now-current database (nothing to write). Budgets (issue 2): < 5 s and < 2 s.

Run: ``.venv/bin/python -m bench.bench_plan_apply [--programs 80] [--repeat 3]
[--url postgresql+psycopg://postgres@127.0.0.1:5432/test]`` (default: a
temporary SQLite file). A PostgreSQL URL's database is emptied first.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from bench.bench_plan_load import write_plan
from scheduler.plans import load_plans
from scheduler.store import is_sqlite, open_engine
from scheduler.store.migrate import upgrade
from scheduler.store.plan_apply import apply_plan

NOW = datetime(2026, 12, 1, tzinfo=UTC)  # before the plan's year: every event is stored


def fresh_database(url: str | None, tmp: Path, run: int) -> str:
    if url is None:
        return f"sqlite:///{tmp / f'bench-{run}.db'}"
    if not is_sqlite(url):
        engine = open_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    return url


def timed_apply(url: str, path: Path) -> tuple[float, int]:
    engine = open_engine(url)
    try:
        started = time.perf_counter()
        events = load_plans([path])
        diff = apply_plan(engine, events, NOW)
        return time.perf_counter() - started, len(diff.writes)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", default=None, help="database URL (default: temporary SQLite)")
    args = parser.parse_args()
    first: list[float] = []
    again: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = write_plan(Path(tmp), args.programs)
        for run in range(args.repeat):
            url = fresh_database(args.url, Path(tmp), run)
            upgrade(url)
            seconds, written = timed_apply(url, path)
            first.append(seconds)
            seconds_again, written_again = timed_apply(url, path)
            again.append(seconds_again)
            assert written_again == 0, "an unchanged re-apply must write nothing"
            print(
                f"run {run + 1}: {written} events applied in {seconds:.2f} s; "
                f"unchanged re-apply {seconds_again:.2f} s"
            )
    print(
        f"median: apply {statistics.median(first):.2f} s (budget 5 s), "
        f"re-apply {statistics.median(again):.2f} s (budget 2 s)"
    )


if __name__ == "__main__":
    main()
