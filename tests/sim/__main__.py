"""``python -m tests.sim``: run N seeds, or replay one with its trace (docs/testing.md)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

from tests.sim.pool import check_seed, default_jobs, verdicts


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__)
    parser.add_argument("--seeds", type=int, default=100, help="run seeds FIRST..FIRST+N-1")
    parser.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--seed", type=int, help="replay one seed and print its trace")
    parser.add_argument("--long", action="store_true", help="bigger worlds (5-50 events, 8 h)")
    parser.add_argument(
        "--batched",
        action="store_true",
        help="store batches in one transaction, as the daemon runs them (default: one by one)",
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="postgres: a fresh database per seed on DRSCHED_TEST_PG_URL",
    )
    parser.add_argument("--trace", action="store_true", help="print every failing seed's trace")
    parser.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        help="worker processes, one seed each at a time (default: one per core)",
    )
    parser.add_argument(
        "--progress", action="store_true", help="print a line for passing seeds too"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    pg_server = os.environ["DRSCHED_TEST_PG_URL"] if args.db == "postgres" else None
    if args.seed is not None:
        return _replay(args.seed, pg_server, args.long, args.batched)
    seeds = range(args.first, args.first + args.seeds)
    failures: Counter[str] = Counter()
    failed = 0
    first: dict[str, int] = {}
    began = time.monotonic()
    for verdict in verdicts(seeds, args.jobs, pg_server, args.long, args.batched):
        if args.trace and not verdict.ok:
            print(verdict.report)
        failed += not verdict.ok
        if verdict.ok and args.progress:
            print(f"seed {verdict.seed}: ok ({verdict.steps} steps)", flush=True)
        for finding in verdict.findings:
            bug = finding[1 : finding.index("]")]
            failures[bug] += 1
            first.setdefault(bug, verdict.seed)
            print(f"seed {verdict.seed}: FAILED {finding}", flush=True)
    elapsed = time.monotonic() - began
    count = len(seeds)
    print(f"{count} seed(s) in {elapsed:.1f}s: {count - failed} ok, {failed} failed")
    for bug, n in sorted(failures.items(), key=lambda item: first[item[0]]):
        print(f"  {n:5d} seed(s)  {bug}  (first: seed {first[bug]})")
    return 1 if failed else 0


def _replay(seed: int, pg_server: str | None, long: bool, batched: bool) -> int:
    """One seed with its whole trace, passing or not."""
    verdict = check_seed(seed, pg_server, long, trace=True, batched=batched)
    print(verdict.report)
    for finding in verdict.findings:
        print(f"seed {seed}: FAILED {finding}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
