"""The read-only commands' wall time on a 20,000-event SQLite database (issue 14).

Each command runs as a real process (``python -m scheduler ...``, output to a
pipe that is read to the end), ``--runs`` times; the figure is the median,
printed beside its limit and beside ``drsched --help`` measured in the same
run (the interpreter's own start-up: what no command can go below), with its
median CPU time (user + system: what other load on the machine inflates
least). Limits:
``events list`` (a page), ``events show``, ``status`` and ``plan validate`` of
``config/plans/*.yaml`` 0.3 s; ``events list --all`` of every event 2 s as a
table, 1 s as ``--json``.

The database: bench_plan_load's plan (80 weekday programs over 2027, 19,920
events) applied to a fresh SQLite file, built once and kept in the temporary
folder for the next run (``--rebuild`` to build it again); a second database
holds the three events of ``config/plans/demo.yaml``.

``--main [REV]`` also times the same commands on the ``main`` branch, or on revision
``REV`` (its tree from ``git archive``, imported ahead of this checkout through
``PYTHONPATH``), ``--main-runs`` times each (default 3: ``events list`` took 28 s there),
run for run in turn with this tree's (this, main, this, main, ...) so that both see the
same load.

Both trees are byte-compiled first (``compileall``), as ``pip install`` leaves a package:
with ``PYTHONDONTWRITEBYTECODE`` set and no ``__pycache__`` (a fresh checkout), every
command would otherwise compile each ``scheduler`` module it imports from source (0.03–0.08
s a command) — what no installed drsched does. ``--no-compile`` measures that way.

Run: ``.venv/bin/python -m bench.bench_cli [--runs 7] [--main [REV]] [--rebuild]
[--no-compile]``
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.bench_plan_load import write_plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(str(p) for p in (ROOT / "config" / "plans").glob("*.yaml"))


@dataclass(frozen=True)
class Case:
    label: str
    argv: tuple[str, ...]
    limit: float | None  # seconds; None: a reference figure, no limit
    database: str = "big"  # "big" (20,000 events) or "small" (three)


CASES = [
    Case("drsched --help (baseline)", ("--help",), None),
    Case("events list (first page)", ("events", "list"), 0.3),
    Case("events list --limit 20", ("events", "list", "--limit", "20"), 0.3),
    Case("events show ID", ("events", "show", "{event}"), 0.3),
    Case("status", ("status",), 0.3),
    Case("plan validate config/plans/*.yaml", ("plan", "validate", *EXAMPLES), 0.3),
    Case("events list --all (table)", ("events", "list", "--all"), 2.0),
    Case("events list --all --json", ("events", "list", "--all", "--json"), 1.0),
    Case("events list --json", ("events", "list", "--json"), 1.0),
    Case("events list, a 3-event database", ("events", "list"), 0.3, "small"),
]


def build_database(path: Path, plan: Path) -> None:
    """The plan applied to a fresh SQLite file at ``path`` (not timed)."""
    from datetime import UTC, datetime

    from scheduler.plans import load_plans
    from scheduler.store import open_engine
    from scheduler.store.migrate import upgrade
    from scheduler.store.plan_apply import apply_plan

    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = open_engine(url)
    try:
        apply_plan(engine, load_plans([plan]), datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        engine.dispose()


def cached_database(programs: int, rebuild: bool) -> Path:
    """The 20,000-event database, built unless a current one is cached."""
    from scheduler.store.reader import open_reader, schema_revision
    from scheduler.store.schema_head import SCHEMA_HEAD

    path = Path(tempfile.gettempdir()) / f"drsched-bench-cli-{programs}.db"
    if path.exists() and not rebuild:
        with open_reader(f"sqlite:///{path}") as reader:
            if schema_revision(reader) == SCHEMA_HEAD:
                return path
    with tempfile.TemporaryDirectory() as tmp:
        print(f"building {path} ({programs} programs) ...", flush=True)
        build_database(path, write_plan(Path(tmp), programs))
    return path


def a_few_events(workdir: Path) -> Path:
    path = workdir / "small.db"
    build_database(path, ROOT / "config" / "plans" / "demo.yaml")
    return path


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``python -m scheduler ARGV``, and its output (it must succeed).

    It runs in the tree on ``PYTHONPATH`` when one is given (``-m`` puts the working
    folder first on ``sys.path``), else in this checkout."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=env.get("PYTHONPATH", ROOT),
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"drsched {' '.join(argv)} exited {done.returncode}: {done.stderr}")
    return seconds, _children_cpu() - cpu, done.stdout


def _children_cpu() -> float:
    """User + system seconds of the children waited for so far: the command's own work,
    which other load on the machine inflates less than its wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def environment(database: Path, pythonpath: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env["DRSCHED_DATABASE__URL"] = f"sqlite:///{database}"
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


Timing = tuple[float, float, str]  # median wall and CPU seconds, the last run's output


def medians_of(case: Case, runs: list[int], envs: list[dict[str, str]], event: str) -> list[Timing]:
    """For each environment (a tree), the medians of its ``runs`` runs, taken in turn."""
    argv = [word.replace("{event}", event) for word in case.argv]
    results: list[list[tuple[float, float, str]]] = [[] for _ in envs]
    for turn in range(max(runs)):
        for count, env, done in zip(runs, envs, results, strict=True):
            if turn < count:
                done.append(timed(argv, env))
    return [
        (statistics.median(r[0] for r in done), statistics.median(r[1] for r in done), done[-1][2])
        for done in results
    ]


def main_tree(workdir: Path, revision: str) -> str:
    """``revision``'s files, unpacked from git (the worktree itself is not touched)."""
    tree = workdir / "main"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", revision, "scheduler"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return str(tree)


def byte_compile(tree: Path) -> None:
    """Byte-code for the tree's ``scheduler`` package, as an install leaves it."""
    if not compileall.compile_dir(str(tree / "scheduler"), quiet=1):
        raise RuntimeError(f"cannot byte-compile {tree / 'scheduler'}")


def check(case: Case, output: str, events: int) -> None:
    """The output is what the command is for (a benchmark of an error message is none)."""
    if case.argv[-1] == "--json" and "--all" in case.argv:
        assert len(json.loads(output)) == events, "--all --json lists every event"
    if case.label.startswith("events list --all (table)"):
        assert output.count("\n") >= events, "--all lists every event"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--programs", type=int, default=80)
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument(
        "--main", nargs="?", const="main", metavar="REV", help="also time main (or REV)"
    )
    parser.add_argument("--main-runs", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true", help="leave the byte-code alone")
    args = parser.parse_args()
    if not args.no_compile:
        byte_compile(ROOT)
    big = cached_database(args.programs, args.rebuild)
    from scheduler.store.reader import open_reader

    with open_reader(f"sqlite:///{big}") as reader:
        count, event = reader.rows("SELECT count(*), min(event_id) FROM events")[0]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min); {count} events")
    with tempfile.TemporaryDirectory() as tmp:
        small = a_few_events(Path(tmp))
        databases = {"big": big, "small": small}
        main_path = main_tree(Path(tmp), args.main) if args.main else None
        if main_path is not None and not args.no_compile:
            byte_compile(Path(main_path))
        baseline = 0.0
        print(
            f"{'command':40} {'median':>8} {'limit':>6} {'÷limit':>7} {'÷--help':>8} {'cpu':>6}",
            end="",
        )
        print(f" {'main':>8} {'main÷now':>9} {'cpu':>6}" if main_path else "")
        for case in CASES:
            envs = [environment(databases[case.database])]
            if main_path is not None:
                envs.append(environment(databases[case.database], main_path))
            timings = medians_of(case, [args.runs, args.main_runs][: len(envs)], envs, event)
            seconds, cpu, output = timings[0]
            check(case, output, count)
            baseline = baseline or seconds
            limit = f"{case.limit:.1f}" if case.limit else "-"
            ratio = f"{seconds / case.limit:.2f}" if case.limit else "-"
            line = (
                f"{case.label:40} {seconds:8.3f} {limit:>6} {ratio:>7} "
                f"{seconds / baseline:8.1f} {cpu:6.3f}"
            )
            if main_path is not None:
                before, before_cpu, _ = timings[1]
                line += f" {before:8.3f} {before / seconds:9.2f} {before_cpu:6.3f}"
            print(line, flush=True)
    load = os.getloadavg()[0]
    compiled = "source" if args.no_compile else "byte-compiled"
    print(
        f"median of {args.runs} runs each (main: {args.main_runs}, {args.main or '-'}); "
        f"{compiled}; load now {load:.2f}"
    )


if __name__ == "__main__":
    main()
