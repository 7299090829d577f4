"""Durations as the config and plans write them: ``90s``, ``5m``, ``24h``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: No duration drsched reads is longer (config keys and plan keys have tighter
#: bounds of their own); this one keeps absurd values from overflowing.
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``/``5m``/``24h``/``1h30m``; raise ValueError with the accepted forms."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned or _PART.sub("", cleaned) != "":
        raise ValueError(f"invalid duration {text!r}: write it like 90s, 5m, 24h or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too long (at most {format_duration(MAX_DURATION)})")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest ``1h30m``-style form of ``delta`` (inverse of :func:`parse_duration`)."""
    total_ms = round(delta.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    seconds, ms = divmod(total_ms, 1000)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    if ms:
        out.append(f"{ms}ms")
    return sign + "".join(out)
