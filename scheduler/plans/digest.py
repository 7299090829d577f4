"""A digest of everything a plan apply's outcome depends on, apart from the database.

The daemon applies ``plans.paths`` at every start and SIGHUP. With 20,000 events that
costs about a second (YAML, recurrence, validation, a fingerprint per event, the diff),
almost always to learn that nothing changed (issue 14). An apply records this digest
beside the plan revision it left (:mod:`scheduler.store.plan_apply`); the next apply
with the same digest, while that revision has not moved, would decide exactly the same
and write nothing, so it is skipped.

Besides the files (their resolved paths and bytes) and the DR programs of the config,
the digest covers what turns the same files into different events: the code that reads
plans and defines events and the diff (``scheduler/plans``, ``scheduler/domain``), the
time zone database (a new tzdata moves local times) and the ``holidays`` and
``python-dateutil`` versions (holiday calendars, recurrence rules). Anything else it
misses would only make an apply run that could have been skipped, never the reverse,
as long as this list stays complete: extend it when the expansion gains an input.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import zoneinfo
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

#: Changed by hand when what the digest covers changes (so old digests stop matching).
DIGEST_FORMAT = b"drsched plan digest 1"
#: Packages whose version changes the events a plan expands to.
_PACKAGES = ("holidays", "python-dateutil", "tzdata")
_CODE = Path(__file__).resolve().parent.parent  # scheduler/
_CODE_DIRS = ("plans", "domain")


def plan_digest(paths: Sequence[Path], programs: object = ()) -> str:
    """The digest of the plan files ``paths`` (resolved, in order), read now.

    ``programs`` is the config's DR programs (their ``repr`` is hashed): the rule
    checks count against them. A file that cannot be read gives a digest no apply
    records (the apply reports it), so nothing is skipped.
    """
    digest = hashlib.sha256(DIGEST_FORMAT)
    digest.update(_environment())
    _field(digest, repr(programs).encode())
    for path in paths:
        _field(digest, str(path).encode())
        try:
            _field(digest, Path(path).read_bytes())
        except OSError as exc:
            _field(digest, f"unreadable: {exc}".encode())
    return digest.hexdigest()


def _field(digest: hashlib._Hash, data: bytes) -> None:
    """Length-prefixed, so that no two different inputs hash alike by running together."""
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)


@cache
def _environment() -> bytes:
    """The code, the tz database and the package versions: read once per process."""
    digest = hashlib.sha256()
    for directory in _CODE_DIRS:
        for source in sorted((_CODE / directory).glob("*.py")):
            _field(digest, source.name.encode())
            _field(digest, source.read_bytes())
    for line in _tz_versions():
        _field(digest, line.encode())
    for package in _PACKAGES:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        _field(digest, f"{package} {version}".encode())
    return digest.digest()


def _tz_versions() -> Iterable[str]:
    """The version line of each system tz database zoneinfo may read (``tzdata.zi``)."""
    for root in zoneinfo.TZPATH:
        try:
            with (Path(root) / "tzdata.zi").open("rb") as handle:
                yield f"{root}: {handle.readline().decode(errors='replace').strip()}"
        except OSError:
            yield f"{root}: -"
