#!/usr/bin/env python3
"""drsched's Prometheus alert rules, with a runbook in each, and every threshold a setting.

``drsched-alerts.yaml`` beside this script is its output with the defaults
(a test keeps the two equal). To change a threshold, generate your own copy::

    python3 deploy/prometheus/alerts.py --list                  # settings, defaults, meaning
    python3 deploy/prometheus/alerts.py --set held_past_end=1800 \\
        --set 'selector=job="drsched",env="prod"' > /etc/prometheus/rules/drsched-alerts.yaml

Like the node exporter's and kube-prometheus' mixins, the rules are data plus
a few named knobs; this one needs only Python and ruamel.yaml (a drsched
dependency). docs/operations.md explains each alert and threshold.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

SHIPPED = Path(__file__).with_name("drsched-alerts.yaml")


@dataclass(frozen=True)
class Setting:
    default: str
    doc: str


SETTINGS: dict[str, Setting] = {
    "selector": Setting('job="drsched"', "label matchers that select drsched's scrape targets"),
    "healthz_selector": Setting(
        'job="drsched-healthz"', "label matchers of the blackbox exporter's /healthz probe"
    ),
    "deployment_by": Setting(
        "job", "labels that tell one deployment (one leader) from another, e.g. job, site"
    ),
    "instance_by": Setting("job, instance", "labels that tell one drsched process from another"),
    "down_for": Setting("2m", "DrschedDown, DrschedMissing: how long before alerting"),
    "healthz_for": Setting("2m", "DrschedHealthzFailing: how long /healthz may fail"),
    "no_leader_for": Setting("2m", "DrschedNoLeader: how long a deployment may have no leader"),
    "two_leaders_for": Setting("1m", "DrschedTwoLeaders: how long two may claim to lead"),
    "failover_window": Setting("30m", "DrschedLeadershipFlapping: window to count fail-overs in"),
    "failovers": Setting("3", "DrschedLeadershipFlapping: epoch increases in that window"),
    "submission_overdue": Setting(
        "300", "DrschedSubmissionOverdue: seconds an event may stay unsubmitted after it was due"
    ),
    "window_uncontrolled": Setting(
        "300", "DrschedWindowUncontrolled: seconds into a window with no facility controlled"
    ),
    "held_past_end": Setting(
        "1200",
        "DrschedFacilitiesHeldPastEnd: seconds a facility may stay held after its window; "
        "keep it above hvac.restore_stagger plus a few retries",
    ),
    "late_work_for": Setting("1m", "the three alerts above: how long the condition must hold"),
    "dr_error_ratio": Setting("0.25", "DrschedDrErrorRatio: share of DR API calls failing"),
    "dr_error_window": Setting("10m", "DrschedDrErrorRatio: rate window"),
    "dr_error_for": Setting("10m", "DrschedDrErrorRatio: how long above the ratio"),
    "becon_error_ratio": Setting("0.25", "DrschedBeconErrorRatio: share of BECON calls failing"),
    "becon_error_window": Setting("10m", "DrschedBeconErrorRatio: rate window"),
    "becon_error_for": Setting("10m", "DrschedBeconErrorRatio: how long above the ratio"),
    "lateness_p99": Setting("60", "DrschedSchedulerLate: p99 lateness of actions, seconds"),
    "lateness_window": Setting("15m", "DrschedSchedulerLate: rate window"),
    "lateness_for": Setting("10m", "DrschedSchedulerLate: how long above"),
    "token_window": Setting("15m", "DrschedBeconTokenFailing: window with failures and no issue"),
    "token_for": Setting("5m", "DrschedBeconTokenFailing: how long"),
    "plan_reload_for": Setting("5m", "DrschedPlanReloadFailing: how long the last apply failed"),
    "event_failed_window": Setting(
        "1h", "DrschedEventFailed: compare the failed count with this long ago"
    ),
}


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    wait: str  # the setting holding its `for`
    severity: str
    summary: str
    description: str
    runbook: str


def _api_error_ratio(api: str) -> str:
    """Failed calls over all calls of one API, per instance (``API`` is replaced by its name)."""
    template = (
        "sum by ({instance_by}) (rate(drsched_api_calls_total"
        '{{{selector},api="API",outcome!="ok"}}[{API_error_window}]))\n'
        "/\n"
        'sum by ({instance_by}) (rate(drsched_api_calls_total{{{selector},api="API"}}'
        "[{API_error_window}]))\n"
        "> {API_error_ratio}"
    )
    return template.replace("API", api)


ALERTS: tuple[Alert, ...] = (
    Alert(
        "DrschedDown",
        "up{{{selector}}} == 0",
        "down_for",
        "critical",
        "drsched on {{ $labels.instance }} does not answer scrapes",
        "Prometheus could not scrape /metrics of {{ $labels.instance }} for {down_for}.",
        """\
The daemon is stopped, crashed, or its event loop is blocked (/metrics is served by
the same loop). Events of a deployment whose only instance is down are not submitted
and buildings under control are not restored.
1. `systemctl status drsched` and `journalctl -u drsched -n 200` on that host.
2. Exit code 3 means leadership was lost (systemd restarts it as a standby);
   `status=243/CREDENTIALS` a missing credential; a watchdog kill a blocked loop.
3. `drsched status` from any host with the config says who leads and what is due.""",
    ),
    Alert(
        "DrschedMissing",
        "absent(up{{{selector}}})",
        "down_for",
        "critical",
        "no drsched target is scraped",
        "No target matches {selector} for {down_for}: no drsched is being watched.",
        """\
Prometheus has no drsched target at all: the scrape job was removed, renamed or its
service discovery finds nothing. Nothing tells you if the daemon works.
1. Prometheus' Status > Targets page: is the drsched job there?
2. Compare the job's labels with this rule's selector (docs/operations.md, alerts).""",
    ),
    Alert(
        "DrschedHealthzFailing",
        "probe_success{{{healthz_selector}}} == 0",
        "healthz_for",
        "critical",
        "drsched /healthz fails on {{ $labels.instance }}",
        "The blackbox probe of /healthz on {{ $labels.instance }} failed for {healthz_for}.",
        """\
/healthz is 503 when the event loop stalled (no heartbeat for 30 s) or the database
did not answer `SELECT 1` within 5 s; it does not answer at all when the loop is blocked.
1. `curl -s http://HOST:9464/healthz | jq` names the failing check and why.
2. database: check PostgreSQL / the SQLite file and disk; the detail has the driver error.
3. loop: look at the logs just before; systemd's watchdog restarts a blocked loop.""",
    ),
    Alert(
        "DrschedNoLeader",
        "sum by ({deployment_by}) (drsched_leader{{{selector}}}) < 1",
        "no_leader_for",
        "critical",
        "no drsched instance leads",
        "drsched instances run, but none has led for {no_leader_for}.",
        """\
Standbys are up but none holds the leader lock: nothing is submitted or controlled.
1. `drsched status`: the lease holder and its heartbeat age; `no leader` means the lock
   is free.
2. Can the instances reach PostgreSQL (`leader.attempt_failed` in the logs)?
3. Does `leader_lease` exist (`drsched db upgrade`)?""",
    ),
    Alert(
        "DrschedTwoLeaders",
        "sum by ({deployment_by}) (drsched_leader{{{selector}}}) > 1",
        "two_leaders_for",
        "critical",
        "two drsched instances claim to lead",
        "More than one instance reports drsched_leader 1 for {two_leaders_for}.",
        """\
Never expected: the advisory lock admits one holder and writes are fenced by the epoch,
so a stale leader's writes fail with FencedError. It can also be two deployments that
share this rule's grouping labels (set deployment_by).
1. `drsched status` and `SELECT epoch, holder FROM leader_lease`: who really leads.
2. Restart the instance whose epoch is lower (`drsched_leader_epoch`).""",
    ),
    Alert(
        "DrschedLeadershipFlapping",
        "max_over_time(max by ({deployment_by}) (drsched_leader_epoch{{{selector}}})"
        "[{failover_window}:])\n"
        "- min_over_time((max by ({deployment_by}) (drsched_leader_epoch{{{selector}}}) > 0)"
        "[{failover_window}:])\n"
        ">= {failovers}",
        "",
        "warning",
        "drsched leadership changes often",
        "The leader epoch moved {failovers} or more times in {failover_window}.",
        """\
Each fail-over stops and restarts event work. Frequent ones mean the leader's loop
stalls longer than idle_session_timeout (10 s) or the network to PostgreSQL drops.
1. Compare the `leader.lost` reasons in both instances' logs.
2. Check PostgreSQL connectivity and the leaders' CPU.""",
    ),
    Alert(
        "DrschedSubmissionOverdue",
        "drsched_submissions_overdue_max_seconds{{{selector}}} > {submission_overdue}",
        "late_work_for",
        "critical",
        "a DR event due for submission is not submitted",
        "An event has been due at the DR service and not accepted for"
        " {{ $value | humanizeDuration }} (drsched_submissions_overdue counts them).",
        """\
An event is still planned or submitting after start - dr_api.submit_lead (or after the
plan brought it): if its window starts before it is accepted, the event is missed.
1. `drsched status` lists overdue submissions; `drsched events show ID` their timeline.
2. DR API errors (DrschedDrErrorRatio, `http.failing` in the logs)? The token
   (dr_api.service_token) and base_url?
3. Is the daemon ticking (`engine.tick_failed` in the logs, DrschedSchedulerLate)?""",
    ),
    Alert(
        "DrschedWindowUncontrolled",
        "drsched_windows_uncontrolled_max_seconds{{{selector}}} > {window_uncontrolled}",
        "late_work_for",
        "critical",
        "a DR window is under way with no HVAC control",
        "An event with HVAC targets has been in its window for"
        " {{ $value | humanizeDuration }} and no facility reached its DR setpoint.",
        """\
The buildings are not shedding load during a DR window: either control never started
(the event is not active locally: DR polling fails) or every setpoint PUT failed.
1. `drsched events show ID` (status, timeline) and `drsched hvac status`.
2. BECON errors (DrschedBeconErrorRatio, DrschedBeconTokenFailing,
   `hvac.gateway_unread` in the logs)?
3. Do hvac.targets map the event's VENs to facilities with setpoints
   (`drsched hvac inventory`)?""",
    ),
    Alert(
        "DrschedFacilitiesHeldPastEnd",
        "drsched_facilities_held_past_end_max_seconds{{{selector}}} > {held_past_end}",
        "late_work_for",
        "critical",
        "facilities are still at DR setpoints after their event ended",
        "A facility is still held {{ $value | humanizeDuration }} after its window ended"
        " (drsched_facilities_held_past_end counts them).",
        """\
Occupants are left at DR setpoints: restores are failing or not being attempted.
1. `drsched hvac status` lists held facilities, their state and last error.
2. BECON errors or a denied site (DrschedBeconErrorRatio, `hvac.*` in the logs)?
3. Still failing: restore by hand in BECON (the original setpoint is in
   `drsched events show ID`), then the daemon's next verify sees it.""",
    ),
    Alert(
        "DrschedDrErrorRatio",
        _api_error_ratio("dr"),
        "dr_error_for",
        "warning",
        "DR API calls fail on {{ $labels.instance }}",
        "{{ $value | humanizePercentage }} of DR Requests API calls failed over {dr_error_window}.",
        """\
Submissions, status polls and cancels are failing; retries hide short outages, but
events may be missed (DrschedSubmissionOverdue) or seen late.
1. `journalctl -u drsched | grep http.call` for the codes and x-message-ids.
2. 401/403: the service token; 5xx/timeouts: the vendor (quote the x-message-id);
   connection errors: the network or dr_api.base_url.""",
    ),
    Alert(
        "DrschedBeconErrorRatio",
        _api_error_ratio("becon"),
        "becon_error_for",
        "warning",
        "BECON calls fail on {{ $labels.instance }}",
        "{{ $value | humanizePercentage }} of BECON Connect calls failed over"
        " {becon_error_window}.",
        """\
Setpoint PUTs, state reads or token issues are failing: control and restores lag.
1. `journalctl -u drsched | grep http.call` for codes (4010 token, 4030 site denied...).
2. `drsched hvac status` for facilities retrying.""",
    ),
    Alert(
        "DrschedSchedulerLate",
        "histogram_quantile(0.99, sum by ({instance_by}, le)"
        " (rate(drsched_scheduler_lateness_seconds_bucket{{{selector}}}[{lateness_window}])))\n"
        "> {lateness_p99}",
        "lateness_for",
        "warning",
        "drsched runs its actions late on {{ $labels.instance }}",
        "p99 lateness of submissions, polls and window actions is"
        " {{ $value | humanizeDuration }} over {lateness_window}.",
        """\
Actions run well after they were due: the host is overloaded, the database slow, or the
event loop blocked by something.
1. CPU and I/O of the host; database latency (`database.busy_timeout` waits on SQLite).
2. `engine.tick_failed` in the logs.""",
    ),
    Alert(
        "DrschedBeconTokenFailing",
        'increase(drsched_becon_token_issues_total{{{selector},outcome="failed"}}'
        "[{token_window}]) > 0\n"
        "unless ignoring (outcome)\n"
        'increase(drsched_becon_token_issues_total{{{selector},outcome="ok"}}'
        "[{token_window}]) > 0",
        "token_for",
        "critical",
        "drsched cannot get a BECON access token on {{ $labels.instance }}",
        "BECON token issues failed and none succeeded in {token_window}.",
        """\
Without a token no setpoint can be read, changed or restored.
1. `journalctl -u drsched | grep -E 'becon|http.call'`: 4012 is a wrong signature
   (becon.secret_key or becon.signer), 4011 a clock more than 5 minutes off
   (check NTP), 4013 a wrong service id or key.
2. The credentials in /etc/credstore (docs/operations.md, credentials).""",
    ),
    Alert(
        "DrschedPlanReloadFailing",
        "drsched_plan_last_apply_successful{{{selector}}} == 0",
        "plan_reload_for",
        "warning",
        "drsched did not apply the plan files on {{ $labels.instance }}",
        "The last plan apply failed; the previous plan stays in force.",
        """\
A start-up or `systemctl reload drsched` found a plan it refused: the changes in it
are not scheduled.
1. `journalctl -u drsched | grep plans.invalid` lists every problem as file:line:col.
2. `drsched plan validate` and `drsched plan diff`, fix, then reload again.""",
    ),
    Alert(
        "DrschedEventFailed",
        'max by ({deployment_by}) (drsched_events{{{selector},status="failed"}})\n'
        '> max by ({deployment_by}) (drsched_events{{{selector},status="failed"}}'
        " offset {event_failed_window})",
        "",
        "warning",
        "a DR event failed",
        "{{ $value }} events are failed now, more than {event_failed_window} ago.",
        """\
The DR service rejected a request, or its window was missed.
1. `drsched status` lists recent failures with their detail.
2. `drsched events show ID` for the timeline and the vendor's code.""",
    ),
)


def settings_with(overrides: Mapping[str, str]) -> dict[str, str]:
    """The defaults with ``overrides``; an unknown name is an error naming the known ones."""
    unknown = sorted(set(overrides) - set(SETTINGS))
    if unknown:
        raise KeyError(f"unknown setting(s) {unknown}; known: {sorted(SETTINGS)}")
    return {name: overrides.get(name, s.default) for name, s in SETTINGS.items()}


def _text(template: str, values: Mapping[str, str]) -> str | LiteralScalarString:
    text = template.format_map(values)
    return LiteralScalarString(text + "\n") if "\n" in text else text


def _annotation(template: str, values: Mapping[str, str]) -> str:
    """Annotations keep Prometheus' own ``{{ }}`` templates; only ``{setting}`` is ours."""
    text = template
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def rule(alert: Alert, values: Mapping[str, str]) -> dict[str, object]:
    body: dict[str, object] = {"alert": alert.name, "expr": _text(alert.expr, values)}
    wait = values[alert.wait] if alert.wait else ""
    if wait and wait not in ("0", "0s", "0m"):
        body["for"] = wait
    body["labels"] = {"severity": alert.severity}
    body["annotations"] = {
        "summary": _annotation(alert.summary, values),
        "description": _annotation(alert.description, values),
        "runbook": LiteralScalarString(alert.runbook + "\n"),
    }
    return body


def render(overrides: Mapping[str, str] | None = None) -> str:
    """The rule file, as text."""
    values = settings_with(overrides or {})
    document = {"groups": [{"name": "drsched", "rules": [rule(a, values) for a in ALERTS]}]}
    yaml = YAML()
    yaml.width = 4096  # keep expressions on the lines they were written on
    yaml.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    changed = ", ".join(f"{k}={v}" for k, v in sorted((overrides or {}).items())) or "none"
    out.write(
        "# drsched alert rules: generated by deploy/prometheus/alerts.py (do not edit here).\n"
        f"# Settings changed from their defaults: {changed}\n"
        "# Install and thresholds: docs/operations.md, section 'Alerts and dashboard'.\n"
    )
    yaml.dump(document, out)
    return out.getvalue()


def _parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: expected NAME=VALUE")
        found[name.strip()] = value.strip()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--list", action="store_true", help="print the settings and exit")
    parser.add_argument("--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    if args.list:
        for name, setting in SETTINGS.items():
            print(f"{name:22} {setting.default:24} {setting.doc}")
        return 0
    try:
        text = render(_parse_sets(args.set))
    except KeyError as exc:
        print(f"alerts.py: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
