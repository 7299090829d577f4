"""CPU a control record costs to save: ``ControlStore.save`` beside SQLAlchemy's own executemany.

At a system-wide start the controller saves each of 5,000 records about twice
(sent, then answered), from the store's one thread, while the event loop
sending the PUTs needs the same interpreter lock (issue 14). ``save`` goes
past SQLAlchemy's per-row work (``scheduler/store/driver_sql.py``); the
baseline, measured in the same run on the same rows, is the same UPDATE given
to ``Session.execute`` as one dict a row, which ``save`` did until 2026-12-01.

Two shapes: batches of 250 records (a prepare or a stop's restores) and of 7
(one PUT's answers, as they come at a start). Each round saves every record
once with a new instant; the figure is CPU time (``time.process_time``) per
record, median of the rounds, each method's rounds interleaved with the other's.

Run: ``.venv/bin/python -m bench.bench_control_save [--records 5000] [--rounds 7]
[--url postgresql+psycopg://postgres@127.0.0.1:5432/test]`` (default: a temporary
SQLite file; with PostgreSQL a database of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._support import database
from scheduler.domain.control_records import ControlRecord, ControlState
from scheduler.domain.events import TempUnit
from scheduler.domain.hvac import FacilityKey, Mode
from scheduler.store import open_engine, transaction
from scheduler.store.control import _SAVE, _SAVE_BINDS, ControlStore, _values
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.support.fakes.hvac import event

START = datetime(2027, 7, 15, 18, tzinfo=UTC)
PER_EVENT = 25  # a VEN of the system-wide benchmark: 25 facilities
Save = Callable[[Sequence[ControlRecord]], None]


def records(count: int) -> list[ControlRecord]:
    return [
        ControlRecord(
            f"ev{n // PER_EVENT:04d}",
            FacilityKey(f"S{n // 1000:03d}", f"GW-{n // 20:04d}", "IDU", f"IDU-{n:05d}"),
            ControlState.PLANNED,
            window_end=START + timedelta(hours=1),
            created_at=START,
            updated_at=START,
            reason="cool: 24 °C + offset 2 °C -> 26 °C",
            unit=TempUnit.C,
            mode=Mode.COOL,
            original=24.0,
            target=26.0,
        )
        for n in range(count)
    ]


def by_sqlalchemy(store: ControlStore) -> Save:
    """The baseline: the same statement through ``Session.execute``, a dict a row."""

    def save(batch: Sequence[ControlRecord]) -> None:
        rows = [dict(zip(_SAVE_BINDS, _values(r), strict=True)) for r in batch]
        with transaction(store.engine) as session:
            session.execute(_SAVE, rows)

    return save


def round_cpu(save: Save, planned: list[ControlRecord], size: int, at: datetime) -> float:
    """CPU seconds per record to save every record once, ``size`` at a time."""
    moved = [
        replace(r, state=ControlState.APPLIED, updated_at=at, applied_at=at, due_at=at)
        for r in planned
    ]
    began = time.process_time()
    for index in range(0, len(moved), size):
        save(moved[index : index + size])
    return (time.process_time() - began) / len(moved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--url", help="a PostgreSQL server URL (default: SQLite)")
    args = parser.parse_args()
    kind = "postgresql" if args.url else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, database(kind, args.url, Path(tmp)) as url:
        upgrade(url)
        engine = open_engine(url)
        try:
            planned = records(args.records)
            events = sorted({r.event_id for r in planned})
            DaemonStore(engine).apply_events(
                [event(e, START) for e in events], START - timedelta(days=1)
            )
            store = ControlStore(engine)
            store.insert(planned)
            methods = {"ControlStore.save": store.save, "Session.execute": by_sqlalchemy(store)}
            print(f"{kind}: {args.records} records of {len(events)} events, {args.rounds} rounds")
            for size in (250, 7):
                cpu: dict[str, list[float]] = {name: [] for name in methods}
                for n in range(args.rounds):
                    for name, save in methods.items():
                        at = START + timedelta(seconds=n + 1)
                        cpu[name].append(round_cpu(save, planned, size, at))
                figures = {name: statistics.median(v) * 1e6 for name, v in cpu.items()}
                new, base = figures["ControlStore.save"], figures["Session.execute"]
                print(
                    f"batches of {size}: ControlStore.save {new:.1f} us a record, "
                    f"Session.execute (baseline) {base:.1f} us: {new / base:.2f}x"
                )
        finally:
            engine.dispose()
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
