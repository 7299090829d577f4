"""`drsched simulate`'s flags: each documented, each reaching SimOptions; its banner."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from scheduler.cli import build_parser
from scheduler.commands.simulate import banner, options_from
from scheduler.config import BeconConfig, DrApiConfig
from scheduler.simulator.options import SimOptions


def _simulate_parser() -> argparse.ArgumentParser:
    subparsers = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    parser: argparse.ArgumentParser = subparsers.choices["simulate"]
    return parser


def test_every_flag_has_help() -> None:
    undocumented = [
        action.option_strings
        for action in _simulate_parser()._actions
        if action.option_strings and not (action.help or "").strip()
    ]
    assert undocumented == []


def test_defaults_are_the_simulators_and_the_configs() -> None:
    """``drsched run`` with no config talks to ``drsched simulate`` with no options."""
    args = build_parser().parse_args(["simulate"])
    options = options_from(args)
    assert options == SimOptions(clock=options.clock)
    dr, becon = DrApiConfig(), BeconConfig()
    assert dr.base_url == f"http://{args.host}:{args.port}/dr"
    assert (dr.service_id, dr.service_token.get_secret_value()) == (
        options.dr_service_id,
        options.dr_token,
    )
    assert becon.base_url == f"http://{args.host}:{args.port}"
    assert (becon.service_id, becon.secret_key.get_secret_value()) == (
        options.becon_service_id,
        options.becon_secret_key,
    )
    assert becon.service_key.get_secret_value() == options.becon_service_key


def test_every_flag_reaches_the_options() -> None:
    argv = ["simulate", "--seed", "7", "--latency-ms", "5", "--jitter-ms", "2"]
    argv += ["--fail-rate", "0.1", "--timeout-rate", "0.2", "--timeout-after-rate", "0.3"]
    argv += ["--standby-lead", "5m", "--dr-service-id", "svc", "--dr-token", "tok"]
    argv += ["--sites", "2", "--gateways", "3", "--facilities", "4", "--token-ttl", "1h"]
    argv += ["--becon-service-id", "b", "--becon-service-key", "bk", "--becon-secret-key", "bs"]
    options = options_from(build_parser().parse_args(argv))
    assert (options.seed, options.latency_ms, options.jitter_ms) == (7, 5.0, 2.0)
    assert (options.fail_rate, options.timeout_rate, options.timeout_after_rate) == (0.1, 0.2, 0.3)
    assert options.standby_lead == timedelta(minutes=5)
    assert (options.dr_service_id, options.dr_token) == ("svc", "tok")
    assert (options.sites, options.gateways, options.facilities) == (2, 3, 4)
    assert (options.becon_service_id, options.becon_service_key) == ("b", "bk")
    assert (options.becon_secret_key, options.token_ttl_s) == ("bs", 3600)


@pytest.mark.parametrize(
    "argv",
    [
        ["--fail-rate", "1.5"],
        ["--port", "70000"],
        ["--port", "-1"],
        ["--facilities", "-1"],
        ["--standby-lead", "soon"],
    ],
)
def test_bad_values_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["simulate", *argv])
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_the_banner_names_both_base_urls_and_the_credentials() -> None:
    text = banner("http://127.0.0.1:8780", SimOptions(), becon=True)
    assert "dr_api.base_url: http://127.0.0.1:8780/dr" in text
    assert "dr_api.service_token: sim-token" in text
    assert "becon.base_url: http://127.0.0.1:8780\n" in text
    assert "becon.secret_key: sim-key" in text
    assert text.splitlines()[-1] == "Stop with Ctrl-C (SIGINT) or SIGTERM."
