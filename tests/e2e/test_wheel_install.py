"""The wheel, installed on a machine with no checkout, upgrades a database to this checkout's head.

The Alembic scripts live in ``migrations/`` at the root of the checkout and ship inside
the wheel as ``scheduler.migrations`` (pyproject.toml's ``package-dir``). This builds the
wheel from a copy of the sources, installs it into a fresh venv in a temporary folder and
runs that venv's ``drsched db upgrade`` from there, then asks the checkout's ``alembic.ini``
(what a developer writing a revision uses) about the same database.

Offline and fast on purpose: the build uses this venv's setuptools (``--no-build-isolation
--no-index``, setuptools is in the ``test`` extra), and the fresh venv gets no pip and no
copies of the dependencies: ``--no-deps`` into it, and a ``.pth`` line puts this venv's
site-packages after its own. That ``.pth`` only appends a folder to ``sys.path`` (the
``.pth`` files inside it, among them the editable install's import hook, are not run), and
the test checks that ``scheduler`` and its migrations are imported from the fresh venv.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from scheduler.store.migrate import head
from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.realtime]

CHECKOUT = Path(__file__).resolve().parents[2]
#: What setuptools reads to build the wheel; copied so the build never sees stale
#: build/ or *.egg-info folders in the checkout, nor races another run writing them.
SOURCES = ("pyproject.toml", "README.md", "scheduler", "migrations")


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=pace().s(90),
        check=False,
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRSCHED_", "PYTHON"))}
    return {**env, **extra}


def build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        origin = CHECKOUT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=ignore)
        else:
            shutil.copy2(origin, src / name)
    dist = tmp_path / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--wheel-dir",
        dist,
        src,
        cwd=tmp_path,
        env=clean_env(),
    )
    (wheel,) = dist.glob("drsched-*.whl")
    return wheel


def expected_members() -> set[str]:
    """Every module of the checkout, under the name the wheel gives it."""
    members = {p.relative_to(CHECKOUT).as_posix() for p in (CHECKOUT / "scheduler").rglob("*.py")}
    members |= {
        "scheduler/" + p.relative_to(CHECKOUT).as_posix()
        for p in (CHECKOUT / "migrations").rglob("*.py")
    }
    return members | {"scheduler/py.typed", "scheduler/migrations/script.py.mako"}


def fresh_venv(root: Path, wheel: Path) -> Path:
    """A venv without pip; the wheel goes in with this venv's pip, the dependencies by .pth."""
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    purelib = run(
        python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root
    ).strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(purelib) / "drsched-test-deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=root,
        env=clean_env(),
    )
    return root


def test_the_installed_wheel_upgrades_to_the_head_the_checkout_sees(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        missing = expected_members() - set(archive.namelist())
    assert not missing, f"not in the wheel (add the package to pyproject.toml): {missing}"

    machine = tmp_path / "machine"  # outside the checkout: no alembic.ini, no migrations/
    machine.mkdir()
    env = fresh_venv(machine / "venv", wheel)
    where = run(
        env / "bin" / "python",
        "-c",
        "import scheduler; from scheduler.store.migrate import migrations_dir;"
        " print(scheduler.__file__); print(migrations_dir())",
        cwd=machine,
        env=clean_env(),
    ).split()
    assert all(Path(p).is_relative_to(env) for p in where), where

    db = machine / "state" / "drsched.db"
    url = f"sqlite:///{db}"
    out = run(
        env / "bin" / "drsched",
        "db",
        "upgrade",
        cwd=machine,
        env=clean_env(DRSCHED_DATABASE__URL=url),
    )
    assert head() in out
    with sqlite3.connect(db) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == head()

    alembic = Path(sys.executable).parent / "alembic"
    config = CHECKOUT / "alembic.ini"
    assert run(alembic, "-c", config, "heads", cwd=CHECKOUT, env=clean_env()).split() == [
        head(),
        "(head)",
    ]
    current = run(
        alembic, "-c", config, "-x", f"url={url}", "current", cwd=CHECKOUT, env=clean_env()
    )
    assert f"{head()} (head)" in current
