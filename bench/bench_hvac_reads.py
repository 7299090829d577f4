"""Volume of stored HVAC reads: 5,000 facilities x 4 h x a read every 5 min.

That is one prefetch round and 48 verification rounds of 5,000 reads each
(245,000 rows), written as the controller writes them: one ``record_reads``
transaction per round. Reports the time per round (median and max), the
total, and the space the table and its indexes take (SQLite: the database
file grows by; PostgreSQL: ``pg_total_relation_size``), per event and per row.

Run: ``.venv/bin/python -m bench.bench_hvac_reads [--facilities 5000] [--hours 4]
[--url postgresql+psycopg://postgres@127.0.0.1:5432/test]`` (default: a
temporary SQLite file). With PostgreSQL a database of its own is created on
that server and dropped afterwards.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench._support import database
from scheduler.domain.events import EventTarget, PlanEvent, Signal
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.hvac_reads import HvacRead, ReadPhase
from scheduler.store import is_sqlite, open_engine
from scheduler.store.migrate import upgrade
from scheduler.store.plan_apply import apply_plan
from scheduler.store.reads import ReadStore

START = datetime(2027, 7, 15, 18, tzinfo=UTC)
EVERY = timedelta(minutes=5)


def size(url: str) -> int:
    if is_sqlite(url):
        base = Path(make_url(url).database or "")
        with closing(sqlite3.connect(base)) as conn:  # the WAL into the file, then its size
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in base.parent.glob(base.name + "*"))
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT pg_total_relation_size('hvac_reads')")) or 0)
    finally:
        engine.dispose()


def event() -> PlanEvent:
    signal = Signal("1", "LOAD_CONTROL", "x-loadControlLevelOffset", ("x-DEVICE_AIR_CONDITIONER",))
    return PlanEvent(
        "bench", "vtn01", START, START + timedelta(hours=4), (signal,), (EventTarget("CE-02"),)
    )


def round_of(keys: list[FacilityKey], at: datetime, phase: ReadPhase) -> list[HvacRead]:
    return [
        HvacRead("bench", key, at, phase, True, True, "cool", 76.0 + i % 5, 74.5 + i % 7, "F")
        for i, key in enumerate(keys)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=5000)
    parser.add_argument("--hours", type=float, default=4)
    parser.add_argument("--url", default=None, help="database URL (default: temporary SQLite)")
    args = parser.parse_args()
    keys = [
        FacilityKey(f"S{i // 1000:03d}", f"GW-{i // 100 % 10:02d}", "IDU", f"IDU-{i:05d}")
        for i in range(args.facilities)
    ]
    rounds = int(timedelta(hours=args.hours) / EVERY)
    kind = "sqlite" if args.url is None else "postgres"
    with tempfile.TemporaryDirectory() as tmp, database(kind, args.url, Path(tmp)) as url:
        upgrade(url)
        engine = open_engine(url)
        try:
            apply_plan(engine, [event()], START - timedelta(days=1))
            before = size(url)
            store = ReadStore(engine, timedelta(days=400))
            times = []
            began = time.perf_counter()
            for n in range(rounds + 1):
                phase = ReadPhase.PREFETCH if n == 0 else ReadPhase.VERIFY
                reads = round_of(
                    keys, START + n * EVERY - (EVERY if n == 0 else timedelta(0)), phase
                )
                started = time.perf_counter()
                store.record_reads(reads)
                times.append(time.perf_counter() - started)
            total = time.perf_counter() - began
        finally:
            engine.dispose()
        grown = size(url) - before
    rows = args.facilities * (rounds + 1)
    kind = "SQLite" if args.url is None else "PostgreSQL"
    print(
        f"{kind}: {rows:,} reads ({args.facilities:,} facilities x {rounds + 1} rounds) "
        f"in {total:.1f} s; per round of {args.facilities:,}: median "
        f"{statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
        f"space {grown / 1e6:.1f} MB ({grown / rows:.0f} B per read)"
    )


if __name__ == "__main__":
    main()
