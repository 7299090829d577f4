"""What the parts of one plan document share, and where each event came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from scheduler.domain.dr_programs import ProgramRules
from scheduler.domain.events import PlanEvent
from scheduler.domain.request_ids import is_reserved_id
from scheduler.plans.content import ContentBuilder
from scheduler.plans.model import ID_CHARS, NOT_DOTS, DstPolicy
from scheduler.plans.nodes import YNode
from scheduler.plans.problems import Problems


@dataclass(frozen=True)
class Located:
    """An event with the position of the YAML that made it (for cross-checks)."""

    event: PlanEvent
    line: int
    col: int

    def where(self, file: str) -> str:
        return f"{file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class LocatedRules:
    """A DR program's rules with the position of its ``dr_programs`` entry."""

    rules: ProgramRules
    line: int
    col: int


@dataclass
class Context:
    """What the whole document shares: its file, zone, DST policy and defaults."""

    file: str
    problems: Problems
    tz: ZoneInfo | None
    tz_given: bool
    dst: DstPolicy
    defaults: YNode | None
    content: ContentBuilder

    def local_zone(self, node: YNode, what: str) -> ZoneInfo | None:
        """The zone for a local time at ``node``; its absence is reported there."""
        if self.tz is None and not self.tz_given:
            self.problems.add(
                node.line,
                node.col,
                f"{what} is a local time: set the top-level "
                "timezone (an IANA name) or write an instant with offset",
            )
        return self.tz

    def policy(self, override: DstPolicy | None) -> DstPolicy:
        """The document's DST policy with the keys an event or program sets itself."""
        if override is None:
            return self.dst
        return self.dst.model_copy(
            update={k: getattr(override, k) for k in override.model_fields_set}
        )


def label(kind: str, item: YNode) -> str:
    """How messages name an event or program: by its id, else by its line."""
    ident = item.child("id")
    if ident is not None and isinstance(ident.value, str | int) and str(ident.value).strip():
        return f"{kind} {str(ident.value)!r}"
    return f"{kind} at line {item.line}"


def text_of(node: YNode, key: str) -> str | None:
    """``key``'s value as text when it is text or a number (as the shape reads it);
    None when it is absent or of a kind the shape check has already reported."""
    child = node.child(key)
    if child is None or isinstance(child.value, bool):
        return None
    if isinstance(child.value, str | int | float):
        return str(child.value)
    return None


def check_id(value: str, limit: int, node: YNode, problems: Problems) -> None:
    """An id must be a sane requestID: 1 to ``limit`` of ``A-Z a-z 0-9 . _ -``, and one
    URL path segment (not ``.`` or ``..``)."""
    if not re.fullmatch(f"{NOT_DOTS}[{ID_CHARS}]{{1,{limit}}}", value):
        problems.at(
            node.where("id"),
            f"id {value!r} is not a valid id: use 1–{limit} of A-Z a-z 0-9 . _ - (not . or ..)",
        )
    elif is_reserved_id(value):
        problems.at(
            node.where("id"),
            f"id {value!r} ends like a re-submission's request id ('<id>-r<N>', which the "
            "daemon uses when a pending event changes): rename it",
        )
