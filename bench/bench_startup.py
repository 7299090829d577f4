"""Start-up of a real ``drsched run`` to READY, with 20,000 planned events (issue 14).

READY is what systemd waits for: the daemon's ``READY=1`` datagram on
``$NOTIFY_SOCKET`` (:mod:`scheduler.systemd`; sent once the plan files are applied,
every open intent reconciled and the timer started), read here from a socket of our
own as ``tests/e2e/test_on_stop.py`` does. Each figure is the median over ``--runs``
start-ups of the time from spawning the process to that datagram; the daemon is then
stopped with SIGTERM. Cases, all in the same run:

- ``python -c pass``: the interpreter alone (the floor nothing can go under);
- an empty database (the schema made by a first start, not counted) and no plan: the
  daemon's own fixed cost;
- the restart that matters: a database holding the 80-program plan of
  ``bench_plan_load.py`` (~20,000 planned events, 2027; the first start, untimed,
  stores it), ``plans.paths`` naming those files (re-applied, unchanged, at every
  start), HVAC targets mapped to the simulator's gateways;
- the same database without ``plans.paths`` (the start-up without a plan apply).

Both vendor APIs are ``drsched simulate`` in its own process. No event is within the
engine's horizon (24 h + submit lead), so nothing is submitted.

The package is byte-compiled first (``compileall``), as ``pip install`` leaves it: with
``PYTHONDONTWRITEBYTECODE`` set and no ``__pycache__`` (a fresh checkout), every start
would otherwise compile the ~110 ``scheduler`` modules it imports from source, ~0.08 s that
no installed daemon spends. ``--no-compile`` measures that way all the same.

``--base DIR``: a second tree (e.g. ``git archive 8f048be | tar -x -C DIR``) is run with
``PYTHONPATH=DIR``, start-up for start-up interleaved with this one (base, this, base,
this...) so that both see the same load, each on a database of its own (the plan digest
covers the code: one database shared by two trees would re-apply the plan at every start).
Its figures are printed under this tree's, with the ratio.

Run: ``.venv/bin/python -m bench.bench_startup [--runs 5] [--programs 80] [--url URL]
[--base DIR] [--no-compile]`` (``--url``: a PostgreSQL server; a fresh database is created
there and dropped after).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._support import database, simulator
from bench.bench_plan_load import write_plan

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 1.0
READY_TIMEOUT_S = 180.0
TICKS = os.sysconf("SC_CLK_TCK")
#: Every program's VEN is mapped to a simulator gateway: HVAC control is on, as in production.
SITES, GATEWAYS = 1, 4


def targets(programs: int) -> list[dict[str, str]]:
    return [
        {"ven": f"VEN-{n:03d}", "site": "S001", "gateway": f"GW-{n % GATEWAYS + 1:02d}"}
        for n in range(programs)
    ]


def environment(
    db_url: str, sim_url: str, plans: Path | None, programs: int, notify: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env.update(
        {
            "NOTIFY_SOCKET": str(notify),
            "DRSCHED_DATABASE__URL": db_url,
            "DRSCHED_DR_API__BASE_URL": f"{sim_url}/dr",
            "DRSCHED_BECON__BASE_URL": sim_url,
            "DRSCHED_HVAC__TARGETS": json.dumps(targets(programs)),
            "DRSCHED_PLANS__PATHS": json.dumps([f"{plans}/*.yaml"] if plans else []),
            "DRSCHED_HTTP__LISTEN": "127.0.0.1:0",
            "DRSCHED_LOGGING__FORMAT": "json",
        }
    )
    return env


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far, from ``/proc`` (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def time_to_ready(
    args: list[str], env: dict[str, str], workdir: Path, notify: Path
) -> tuple[float, float]:
    """Seconds from spawning ``args`` to its ``READY=1``, and the CPU seconds it used by
    then (all its threads); the process is then stopped."""
    notify.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(READY_TIMEOUT_S)
        log = (workdir / "drsched.log").open("ab")
        began = time.perf_counter()
        proc = subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    message = sock.recv(4096).decode()
                except TimeoutError:
                    raise RuntimeError(f"no READY=1 in {READY_TIMEOUT_S:g} s") from None
                if "READY=1" in message:
                    took, cpu = time.perf_counter() - began, cpu_seconds(proc.pid)
                    if "STATUS=running" not in message:  # a standby's READY is not ours
                        raise RuntimeError(f"READY without leading: {message!r}")
                    return took, cpu
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            log.close()
            if code != 0:
                tail = (workdir / "drsched.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"drsched run exited {code}:\n{tail}")


def median_of(runs: int, measure: Callable[[], tuple[float, float]]) -> list[tuple[float, float]]:
    return [measure() for _ in range(runs)]


def report(label: str, results: list[tuple[float, float]], baseline: float | None) -> float:
    """Prints the median wall time (and CPU) beside the limit; returns the median wall time."""
    walls = [wall for wall, _ in results]
    median, cpu = statistics.median(walls), statistics.median(c for _, c in results)
    spread = f"{min(walls):.3f}–{max(walls):.3f}"
    versus = f", {median - baseline:+.3f} s against the empty start" if baseline else ""
    print(
        f"{label:46} median {median:6.3f} s ({spread}; CPU {cpu:5.2f} s) = "
        f"{median / LIMIT_S:5.2f}× the {LIMIT_S:g} s limit{versus}"
    )
    return median


@dataclass(frozen=True)
class Tree:
    """The code a start-up runs: this checkout (``path`` None) or another on ``PYTHONPATH``."""

    name: str
    path: Path | None = None

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return env if self.path is None else {**env, "PYTHONPATH": str(self.path)}


def compile_trees(trees: list[Tree]) -> None:
    """Byte-code for every tree's ``scheduler`` package, as an install leaves it."""
    for tree in trees:
        root = (tree.path or ROOT) / "scheduler"
        if not compileall.compile_dir(str(root), quiet=1):
            raise RuntimeError(f"cannot byte-compile {root}")


def interleaved(
    runs: int, trees: list[Tree], measure: Callable[[Tree], tuple[float, float]]
) -> dict[str, list[tuple[float, float]]]:
    """``runs`` measurements of every tree, taken in turn (a, b, a, b, ...)."""
    results: dict[str, list[tuple[float, float]]] = {tree.name: [] for tree in trees}
    for _ in range(runs):
        for tree in trees:
            results[tree.name].append(measure(tree))
    return results


def report_trees(
    label: str, results: dict[str, list[tuple[float, float]]], baseline: float | None
) -> float:
    """This tree's line, then each other tree's with its median against this one's."""
    names = list(results)
    mine = report(label, results[names[0]], baseline)
    for name in names[1:]:
        theirs = statistics.median(wall for wall, _ in results[name])
        report(f"  {name}", results[name], None)
        print(f"  {'':44} this tree ÷ {name}: {mine / theirs:.2f}")
    return mine


@contextlib.contextmanager
def databases(
    kind: str, url: str | None, workdir: Path, trees: list[Tree], name: str
) -> Iterator[dict[str, str]]:
    """A fresh database per tree (its folder under ``workdir``); tree name -> URL."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for number, tree in enumerate(trees):
            folder = workdir / f"{name}-{number}"
            folder.mkdir()
            urls[tree.name] = stack.enter_context(database(kind, url, folder))
        yield urls


@dataclass(frozen=True)
class Starts:
    """What every start-up of one run of the bench shares."""

    trees: list[Tree]
    runs: int
    programs: int
    sim_url: str
    workdir: Path

    def of(
        self, urls: dict[str, str], plans: Path | None, runs: int | None = None
    ) -> dict[str, list[tuple[float, float]]]:
        """Start-ups of every tree, interleaved, each on its database (tree name -> URL)."""
        notify = self.workdir / "notify.sock"
        daemon = [sys.executable, "-m", "scheduler", "run"]

        def start(tree: Tree) -> tuple[float, float]:
            env = environment(urls[tree.name], self.sim_url, plans, self.programs, notify)
            return time_to_ready(daemon, tree.env(env), self.workdir, notify)

        return interleaved(self.runs if runs is None else runs, self.trees, start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--programs", type=int, default=80)
    parser.add_argument("--url", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--base", type=Path, help="another tree to interleave with this one")
    parser.add_argument("--no-compile", action="store_true", help="leave the byte-code alone")
    args = parser.parse_args()
    kind = "postgres" if args.url else "sqlite"
    trees = [Tree("this tree")] + ([Tree(f"base {args.base}", args.base)] if args.base else [])
    if not args.no_compile:
        compile_trees(trees)
    print(f"load: {_load()}")
    python_pass = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        big = workdir / "plans"
        big.mkdir()
        write_plan(big, args.programs)
        flags = ["--sites", str(SITES), "--gateways", str(GATEWAYS), "--facilities", "5"]
        with simulator(flags, workdir) as sim_url:
            report("python -c pass", median_of(args.runs, lambda: _spawned(python_pass)), None)
            starts = Starts(trees, args.runs, args.programs, sim_url, workdir)
            with databases(kind, args.url, workdir, trees, "empty") as urls:
                starts.of(urls, None, runs=1)  # makes the schema: not counted
                empty = report_trees(
                    f"{kind}: empty database, no plan", starts.of(urls, None), None
                )
            with databases(kind, args.url, workdir, trees, "full") as urls:
                first = starts.of(urls, big, runs=1)  # stores the plan: not counted
                stored = ", ".join(f"{name} {runs[0][0]:.3f} s" for name, runs in first.items())
                print(f"{kind}: first start, stores the plan (not counted): {stored}")
                label = f"{kind}: ~20,000 planned events"
                report_trees(f"{label}, plans.paths", starts.of(urls, big), empty)
                report_trees(f"{label}, no plans.paths", starts.of(urls, None), empty)
    print(f"load: {_load()}")


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)"


def _spawned(args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of a process run to its end."""
    began, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return time.perf_counter() - began, cpu


if __name__ == "__main__":
    main()
