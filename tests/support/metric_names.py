"""Which series names drsched exports: for checking what the rules and dashboard query."""

from __future__ import annotations

import re

from prometheus_client import generate_latest

from scheduler import metrics

#: Sample suffixes prometheus_client adds to a family's name.
SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum")


def exported() -> set[str]:
    """Every drsched_* series name a scrape can carry (labelled families with no child too)."""
    with metrics.isolated_metrics() as m:
        text = generate_latest(m.registry).decode()
    families = set(re.findall(r"^# TYPE (drsched_\w+) ", text, flags=re.MULTILINE))
    return {f + suffix for f in families for suffix in SUFFIXES}


def referenced(expr: str) -> set[str]:
    return set(re.findall(r"\bdrsched_\w+", expr))
