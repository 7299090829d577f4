"""How long load_plans takes for a large plan: 80 programs × ~250 weekdays = ~20,000 events.

Each program targets its own VEN (no overlaps) and skips US holidays, so the
run exercises recurrence, holidays, DST (the year crosses both changes),
the duplicate-id and the per-VEN overlap checks. The plan budget is well
under 2 s of the 5 s ``plan apply`` budget.

Run: ``.venv/bin/python -m bench.bench_plan_load [--programs 80] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scheduler.plans import load_plans

HEADER = """\
timezone: America/New_York
defaults:
  vtn_id: vtn01
  signals:
    - name: LOAD_CONTROL
      targets: [x-DEVICE_AIR_CONDITIONER]
      max_temp: 80
      temp_offset: 4
      unit: F
    - {name: SIMPLE, targets: [x-DEVICE_TV, x-DEVICE_ESS]}
programs:
"""

PROGRAM = """\
  - id: peak-{n:03d}
    targets: [{{ven: VEN-{n:03d}}}]
    rrule: FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
    from: 2027-01-01
    until: 2027-12-31
    start_time: "15:00"
    duration: 3h
    skip_holidays: US
"""


def write_plan(directory: Path, programs: int) -> Path:
    """A plan file with ``programs`` weekday programs, one VEN each."""
    path = directory / "big.yaml"
    path.write_text(HEADER + "".join(PROGRAM.format(n=n) for n in range(programs)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_plan(Path(tmp), args.programs)
        timings = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            events = load_plans([path])
            timings.append(time.perf_counter() - began)
    print(
        f"load_plans: {len(events)} events from {args.programs} programs: "
        f"best {min(timings):.3f} s, worst {max(timings):.3f} s over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
