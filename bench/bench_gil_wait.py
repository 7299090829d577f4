"""How long a worker thread waits for the GIL beside a busy event loop (issue 14).

The daemon's store calls run in a worker thread (``scheduler/store_gateway.py``) while
the event loop reads vendor answers. This bench gives a worker ``--work-ms`` of pure
Python and measures when it finishes, while the main thread is busy for ``--busy-ms``:

- ``loop, 1 ms callbacks``: the event loop runs callbacks of 1 ms, one after the other
  (as when it reads a burst of answers); between two, it polls its selector;
- ``loop, one callback``: the same time in one callback;
- ``plain thread``: no event loop, the main thread spins.

each at the default GIL switch interval (5 ms) and at 1 ms. In CPython a waiting
thread asks the running one to hand the GIL over only if nobody took the GIL while it
waited; a loop that polls its selector between callbacks releases and takes the GIL
back each time, so the worker may wait for the whole busy period.

Run: ``.venv/bin/python -m bench.bench_gil_wait [--busy-ms 30] [--work-ms 0.5]
[--repeat 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Callable


def spin(ms: float) -> None:
    """Hold the GIL for ``ms`` (pure Python, as the loop's callbacks are)."""
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def worker(work_ms: float) -> Callable[[], float]:
    def run() -> float:
        spin(work_ms)
        return time.perf_counter()

    return run


async def beside_loop(busy_ms: float, work_ms: float, callbacks: int) -> float:
    """ms from handing the work to the executor until it finished."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    done = loop.run_in_executor(None, worker(work_ms))
    for _ in range(callbacks):
        spin(busy_ms / callbacks)
        await asyncio.sleep(0)  # the loop polls its selector between callbacks
    return (await done - started) * 1000


def beside_thread(busy_ms: float, work_ms: float) -> float:
    finished: list[float] = []
    run = worker(work_ms)
    thread = threading.Thread(target=lambda: finished.append(run()))
    started = time.perf_counter()
    thread.start()
    spin(busy_ms)
    thread.join()
    return (finished[0] - started) * 1000


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy-ms", type=float, default=30.0)
    parser.add_argument("--work-ms", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    busy, work, repeat = args.busy_ms, args.work_ms, args.repeat
    print(f"a worker given {work:g} ms of Python while the main thread is busy {busy:g} ms;")
    print(f"when it finished, median of {repeat}:")
    for interval in (0.005, 0.001):
        sys.setswitchinterval(interval)
        cases = {
            "loop, 1 ms callbacks": lambda: asyncio.run(
                _many(repeat, busy, work, max(1, round(busy)))
            ),
            "loop, one callback": lambda: asyncio.run(_many(repeat, busy, work, 1)),
            "plain thread": lambda: median_of(repeat, lambda: beside_thread(busy, work)),
        }
        for name, measure in cases.items():
            print(f"  switch interval {interval * 1000:g} ms, {name:22} {measure():6.1f} ms")


async def _many(repeat: int, busy_ms: float, work_ms: float, callbacks: int) -> float:
    await asyncio.to_thread(lambda: None)  # the executor's thread exists before timing
    return statistics.median(
        [await beside_loop(busy_ms, work_ms, callbacks) for _ in range(repeat)]
    )


if __name__ == "__main__":
    main()
