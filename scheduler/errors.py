"""The one exception hierarchy of drsched.

Every error a person may read carries what they need to act on it: the plan
file and line, the event id, the facility, or the ``x-message-id`` we sent to a
vendor. Low-level errors (httpx, SQLAlchemy, ruamel) are converted at the
boundary with ``raise ... from exc``.

    DrschedError
    ├── ConfigError            one or more problems in the daemon config
    ├── PlanError              one or more problems in plan files (file:line:col)
    ├── StoreError             the database refused or is unreachable
    │   ├── AlreadyRunningError    another daemon holds the SQLite lock
    │   └── FencedError            a stale leader tried to write
    ├── UnknownEventError      no event with that id in the database
    ├── LifecycleError         a change the event's status does not allow
    └── ApiError               a vendor API call failed (code, message, message id)
        ├── RetryableApiError      5xx, 429, timeouts, connection errors
        └── PermanentApiError      4xx and non-success codes
            ├── NotFoundError
            ├── AlreadyExistsError
            └── AuthError
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar


class DrschedError(Exception):
    """Base of every error drsched raises on purpose."""

    #: README's exit-code table: a runtime failure (3) unless the class says otherwise.
    exit_code: ClassVar[int] = 3


class UsageError(DrschedError):
    """A command written in a way it cannot be carried out (exit 2, as a bad flag)."""

    exit_code = 2


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in a file, with its position (1-based line and column)."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line == 0:  # no position in the file (a glob that matched nothing, say)
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class _ProblemsError(DrschedError):
    """An error that reports every problem found at once, sorted by position."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(_ProblemsError):
    """The daemon config is invalid; each problem names the key."""

    @classmethod
    def single(cls, source: str, message: str) -> ConfigError:
        return cls([Problem(source, 0, 0, message)])

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        DrschedError.__init__(
            self,
            "\n".join(f"{p.file}: {p.message}" if p.line == 0 else str(p) for p in self.problems),
        )


class PlanError(_ProblemsError):
    """One or more plan files are invalid; nothing was written."""


class StoreError(DrschedError):
    """The database could not do what was asked."""


class AlreadyRunningError(StoreError):
    """Another drsched daemon already uses this database."""


class FencedError(StoreError):
    """This instance is no longer the leader: its writes are refused."""


class UnknownEventError(DrschedError):
    """An event id the database does not hold (a user's typo: exit 1, not a failure)."""

    exit_code = 1

    def __init__(self, event_id: str) -> None:
        super().__init__(f"no event {event_id!r} in the database (see `drsched events list`)")
        self.event_id = event_id


class LifecycleError(DrschedError):
    """A change the event's current status does not allow."""

    def __init__(self, event_id: str, message: str) -> None:
        self.event_id = event_id
        super().__init__(f"event {event_id}: {message}")


class ApiError(DrschedError):
    """A vendor API call failed.

    ``code`` and ``message`` are the vendor's, verbatim; ``message_id`` is the
    ``x-message-id`` we sent (quote it to the vendor); ``http_status`` may be
    None for transport failures.
    """

    def __init__(
        self,
        api: str,
        operation: str,
        *,
        code: str | None = None,
        message: str = "",
        message_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.api = api
        self.operation = operation
        self.code = code
        self.message = message
        self.message_id = message_id
        self.http_status = http_status
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts: list[str] = [f"{self.api} {self.operation} failed"]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.message:
            parts.append(repr(self.message))
        if self.message_id:
            parts.append(f"x-message-id {self.message_id}")
        return ": ".join(parts[:1]) + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")


class RetryableApiError(ApiError):
    """A failure worth retrying: 5xx, 429, timeouts, connection errors."""


class PermanentApiError(ApiError):
    """A failure retrying will not fix: 4xx or a non-success code."""


class NotFoundError(PermanentApiError):
    """The vendor does not know the request, site, gateway or facility."""


class AlreadyExistsError(PermanentApiError):
    """The vendor already has a request with this id (DR API 409, codes 4308-4311)."""


class AuthError(PermanentApiError):
    """Credentials were refused (wrong token, signature or service key)."""


def format_problems(problems: Sequence[Problem]) -> str:
    """All problems, one per line, in file order."""
    return "\n".join(str(p) for p in sorted(problems))
