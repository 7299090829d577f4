"""The report as one self-contained HTML file with charts, readable with no network.

Charts are drawn by matplotlib (a long-kept plotting library) straight to SVG
that is inlined in the page: no script, no font or style sheet to fetch.
Each chart element carries an id (``room-median``, ``room-band``,
``setpoint-median``, ``worst-1``, ``outcomes``...) so it can be found in the
DOM. Temperatures are drawn in °F (°C facilities converted).
"""

from __future__ import annotations

import bisect
import html
import io
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scheduler.domain.dr_programs import TOOK_PART
from scheduler.domain.evidence import EventEvidence
from scheduler.reports.records import describe_signal
from scheduler.reports.render import as_data, table_rows
from scheduler.reports.totals import reads_by_facility, room_rise, to_f

#: The facilities drawn one by one: those whose room warmed most.
WORST = 3
#: Beyond this many reads the page lists none (the CSV and JSON have them all).
MAX_READ_ROWS = 5000

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.9em;text-align:left}
th{background:#f3f3f3}figure{margin:1em 0}.digest{font-family:monospace}
.flag{color:#b00;font-weight:bold}
"""


def render_html(evidence: Sequence[EventEvidence], scope: dict[str, Any]) -> str:
    data = as_data(evidence, scope)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(_title(scope))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(_title(scope))}</h1>",
        f"<p>Records: {len(data['records'])}; SHA-256 of the records: "
        f'<span class="digest" id="digest">{data["digest"]}</span> '
        "(check a saved CSV or JSON with <code>drsched report verify FILE</code>).</p>",
        "<h2>Totals</h2>",
        _totals_table(data["totals"]),
    ]
    for item, summary in zip(evidence, data["events"], strict=True):
        parts.append(_event_section(item, summary["totals"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _title(scope: dict[str, Any]) -> str:
    if "event_id" in scope:
        return f"DR event {scope['event_id']}: evidence report"
    program = f", program {scope['program']}" if scope.get("program") else ""
    return f"DR events {scope.get('from')} – {scope.get('to')}{program}: evidence report"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], ident: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    attr = f' id="{ident}"' if ident else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _totals_table(figures: dict[str, Any]) -> str:
    rise = figures["room_temp_rise_f"]
    rows = [
        ("events", figures["events"]),
        ("facilities mapped", figures["facilities"]),
        ("facilities controlled", figures["facilities_controlled"]),
        ("facility-hours under DR", f"{figures['facility_hours_under_dr']:g}"),
        ("opted out", f"{figures['opted_out']} ({figures['opt_out_share']:.1%} of controlled)"),
        ("opted-out share of facility-hours", f"{figures['opt_out_hours_share']:.1%}"),
        ("room temperature rise, median (°F)", rise["median"]),
        ("room temperature rise, max (°F)", rise["max"]),
        ("outcomes", ", ".join(f"{k}: {v}" for k, v in figures["outcomes"].items())),
    ]
    return _table(("figure", "value"), rows)


def _event_section(item: EventEvidence, figures: dict[str, Any]) -> str:
    event = item.event
    asked = [
        ("event", event.event_id),
        ("name", event.name or ""),
        ("program", event.dr_program or ""),
        ("VTN", event.vtn_id),
        ("window (UTC)", f"{_at(event.start)} – {_at(event.end)}"),
        ("status", item.status),
        ("targets", ", ".join(t.ven_id for t in event.targets)),
        ("signals", "; ".join(describe_signal(s) for s in event.signals)),
    ]
    timeline = [
        (_at(t.at), f"{t.from_status.value} → {t.to_status.value}", t.source.value, t.detail)
        for t in item.timeline
    ]
    failures = [f for f in item.facilities if f.state == "failed"]
    parts = [
        f'<section id="event-{_e(event.event_id)}"><h2>Event {_e(event.event_id)}</h2>',
        "<h3>What was asked</h3>",
        _table(("", ""), asked),
        "<h3>Totals</h3>",
        _totals_table(figures),
        "<h3>Status timeline</h3>",
        _table(("at (UTC)", "change", "source", "detail"), timeline),
        "<h3>Charts</h3>",
        _figure("chart-temperature", _temperature_svg(item), "Room temperature and setpoint"),
        _figure("chart-outcomes", _outcome_svg(item), "Facilities by outcome"),
        "<h3>Facilities</h3>",
        _table(
            (
                "facility",
                "outcome",
                "original → DR → restored",
                "pre-conditioned",
                "DR set at",
                "restored / opted out at",
                "reads",
                "room rise",
                "reason",
            ),
            table_rows(item),
            "facilities",
        ),
    ]
    if failures:
        parts += [
            "<h3>Failures</h3>",
            _table(
                ("facility", "attempts", "detail (vendor code)"),
                [(str(f.key), f.attempts, f.detail or f.reason) for f in failures],
            ),
        ]
    parts.append(_reads_section(item))
    parts.append("</section>")
    return "\n".join(parts)


def _reads_section(item: EventEvidence) -> str:
    if len(item.reads) > MAX_READ_ROWS:
        return f"<p>{len(item.reads)} reads: see the CSV or JSON report for each one.</p>"
    rows: list[tuple[object, ...]] = [
        (_at(r.at), str(r.key), r.phase.value, "yes" if r.ok else "no", r.power_on, r.mode)
        for r in item.reads
    ]
    rows = [
        (*row, r.set_temp, r.room_temp, r.unit) for row, r in zip(rows, item.reads, strict=True)
    ]
    headers = ("at (UTC)", "facility", "phase", "read", "power", "mode", "setpoint", "room", "unit")
    return (
        f"<details><summary>Every HVAC read ({len(rows)})</summary>"
        + _table(headers, rows, "reads")
        + "</details>"
    )


def _at(instant: datetime | None) -> str:
    return "" if instant is None else instant.strftime("%Y-%m-%d %H:%M:%S")


def _figure(ident: str, svg: str, caption: str) -> str:
    return (
        f'<figure class="chart" id="{ident}">{svg}<figcaption>{_e(caption)}</figcaption></figure>'
    )


# -- charts --------------------------------------------------------------------


#: Points along the time axis of the temperature chart.
GRID = 80


def _series(item: EventEvidence) -> tuple[dict[float, list[float]], dict[float, list[float]]]:
    """Room temperatures and setpoints (°F) of the controlled facilities on a time grid.

    Facilities are read at slightly different instants, so each one's value at a
    grid point is its last read at or before it (what it was then, as far as we know).
    """
    controlled = {f.key for f in item.facilities if f.state in TOOK_PART}
    reads = [r for r in item.reads if r.ok and r.key in controlled]
    room: dict[float, list[float]] = defaultdict(list)
    setpoint: dict[float, list[float]] = defaultdict(list)
    if not reads:
        return room, setpoint
    first, last = min(r.at for r in reads), max(r.at for r in reads)
    step = (last - first) / (GRID - 1)
    for mine in reads_by_facility(reads).values():
        times = [r.at for r in mine]
        for index in range(GRID):
            at = first + step * index
            found = bisect.bisect_right(times, at) - 1
            if found < 0:
                continue
            read = mine[found]
            minute = (at - item.event.start).total_seconds() / 60
            if read.room_temp is not None:
                room[minute].append(to_f(read.room_temp, read.unit))
            if read.set_temp is not None:
                setpoint[minute].append(to_f(read.set_temp, read.unit))
    return room, setpoint


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    low, mid, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, mid, high


def _temperature_svg(item: EventEvidence) -> str:
    from matplotlib.figure import Figure

    room, setpoint = _series(item)
    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    for name, series, color in (("room", room, "tab:red"), ("setpoint", setpoint, "tab:blue")):
        minutes = sorted(series)
        if not minutes:
            continue
        low, mid, high = zip(*(_quartiles(series[m]) for m in minutes), strict=True)
        band = axes.fill_between(minutes, low, high, color=color, alpha=0.2)
        band.set_gid(f"{name}-band")
        (line,) = axes.plot(
            minutes, mid, color=color, linewidth=2, label=f"{name} median (IQR band)"
        )
        line.set_gid(f"{name}-median")
    for rank, (key, rise) in enumerate(_worst(item), start=1):
        reads = [r for r in item.reads if r.key == key and r.ok and r.room_temp is not None]
        xs = [(r.at - item.event.start).total_seconds() / 60 for r in reads]
        ys = [to_f(r.room_temp or 0.0, r.unit) for r in reads]
        (line,) = axes.plot(xs, ys, linestyle="--", linewidth=1, label=f"{key} (+{rise:.1f} °F)")
        line.set_gid(f"worst-{rank}")
    length = (item.event.end - item.event.start).total_seconds() / 60
    window = axes.axvspan(0, length, color="0.9", zorder=0)
    window.set_gid("window")
    axes.set_xlabel("minutes from the window's start")
    axes.set_ylabel("°F")
    axes.legend(loc="upper left", fontsize="small")
    return _svg(figure)


def _worst(item: EventEvidence) -> list[tuple[Any, float]]:
    reads = reads_by_facility(item.reads)
    rises = []
    for f in item.facilities:
        if f.state in TOOK_PART:
            rise = room_rise(item, reads.get(f.key, []))
            if rise is not None:
                rises.append((f.key, rise))
    return sorted(rises, key=lambda pair: (-pair[1], pair[0]))[:WORST]


def _outcome_svg(item: EventEvidence) -> str:
    from matplotlib.figure import Figure

    counts: dict[str, int] = defaultdict(int)
    for f in item.facilities:
        counts[f.state] += 1
    names = sorted(counts)
    figure = Figure(figsize=(9, 0.5 + 0.4 * max(1, len(names))))
    axes = figure.add_subplot()
    axes.set_gid("outcomes")
    bars = axes.barh(names, [counts[n] for n in names], color="tab:gray")
    for bar, name in zip(bars, names, strict=True):
        bar.set_gid(f"outcome-{name}")
        axes.annotate(str(counts[name]), (bar.get_width(), bar.get_y() + bar.get_height() / 2))
    axes.set_xlabel("facilities")
    figure.tight_layout()
    return _svg(figure)


def _svg(figure: Any) -> str:
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "drsched"}):
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return re.sub(r"^.*?(?=<svg)", "", text, count=1, flags=re.DOTALL)
