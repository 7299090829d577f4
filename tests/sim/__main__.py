"""``python -m tests.sim``: run N seeds, or replay one with its trace (docs/testing.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter

from tests.sim.bugs import classify
from tests.sim.run import run_seed
from tests.sim.world import LONG, Size, generate


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__)
    parser.add_argument("--seeds", type=int, default=100, help="run seeds FIRST..FIRST+N-1")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--seed", type=int, help="replay one seed and print its trace")
    parser.add_argument("--long", action="store_true", help="bigger worlds (5-50 events, 8 h)")
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="postgres: a fresh database per seed on DRSCHED_TEST_PG_URL",
    )
    parser.add_argument("--trace", action="store_true", help="print every failing seed's trace")
    parser.add_argument(
        "--progress", action="store_true", help="print a line for passing seeds too"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    size = LONG if args.long else Size()
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    failures: Counter[str] = Counter()
    failed = 0
    first: dict[str, int] = {}
    began = time.monotonic()
    for seed in seeds:
        world = generate(seed, size)
        with _database(args.db, seed) as url:
            result = asyncio.run(run_seed(world, url))
        if args.seed is not None or (args.trace and not result.ok):
            print(result.report(world))
        failed += not result.ok
        if result.ok and args.progress:
            print(f"seed {seed}: ok ({result.steps} steps)", flush=True)
        for violation in result.violations:
            bug = classify(violation, result.trace)
            failures[bug] += 1
            first.setdefault(bug, seed)
            print(f"seed {seed}: FAILED [{bug}] {violation}", flush=True)
    elapsed = time.monotonic() - began
    count = len(seeds)
    print(f"{count} seed(s) in {elapsed:.1f}s: {count - failed} ok, {failed} failed")
    for bug, n in sorted(failures.items(), key=lambda item: first[item[0]]):
        print(f"  {n:5d} seed(s)  {bug}  (first: seed {first[bug]})")
    return 1 if failed else 0


class _database:  # a context manager used like a function
    def __init__(self, kind: str, seed: int) -> None:
        self.kind, self.seed = kind, seed
        self.url: str | None = None

    def __enter__(self) -> str | None:
        if self.kind == "sqlite":
            return None
        from tests.sim.pg import fresh_database

        self.url, self.drop = fresh_database(os.environ["DRSCHED_TEST_PG_URL"], self.seed)
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self.url is not None:
            self.drop()


if __name__ == "__main__":
    raise SystemExit(main())
