"""The daemon config: overrides, secrets, durations and error messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drsched.yaml"
    path.write_text(text)
    return path


def test_defaults_are_enough_for_plan_commands() -> None:
    config = load_config(None, {})
    assert config.database.url == "sqlite:///var/drsched.db"
    assert config.dr_api.submit_lead == timedelta(hours=24)


def test_state_directory_moves_the_default_database() -> None:
    config = load_config(None, {"STATE_DIRECTORY": "/var/lib/drsched"})
    assert config.database.url == "sqlite:////var/lib/drsched/drsched.db"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "dr_api: {submit_lead: 24h}\nplans: {paths: [a.yaml]}\n")
    env = {"DRSCHED_DR_API__SUBMIT_LEAD": "90s", "DRSCHED_PLANS__PATHS": "[b.yaml, c.yaml]"}
    config = load_config(path, env)
    assert config.dr_api.submit_lead == timedelta(seconds=90)
    assert config.plans.paths == ["b.yaml", "c.yaml"]


def test_secret_from_file_and_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "becon-key").write_text("cred-key")
    path = write(tmp_path, f"dr_api: {{service_token_file: {tmp_path / 'token'}}}\n")
    config = load_config(path, {"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.dr_api.service_token.get_secret_value() == "file-token"
    assert config.becon.secret_key.get_secret_value() == "cred-key"


def test_secrets_never_printed(tmp_path: Path) -> None:
    path = write(tmp_path, "dr_api: {service_token: hunter2}\nbecon: {secret_key: s3cret}\n")
    config = load_config(path, {})
    shown = f"{config!r} {config} {config.redacted()}"
    assert "hunter2" not in shown
    assert "s3cret" not in shown


def test_every_problem_named_by_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dr_api: {submit_lead: 5x, country_code: USA}\nhvac: {overide: respect}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    text = str(info.value)
    assert "dr_api.submit_lead: invalid duration '5x'" in text
    assert "dr_api.country_code: must be an ISO 3166 alpha-2 code" in text
    assert "hvac.overide: unknown key" in text
    assert len(info.value.problems) == 3


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = write(tmp_path, "dr_api:\n  submit_lead: [1h\n")
    with pytest.raises(ConfigError, match=r"drsched.yaml:3:1: YAML syntax"):
        load_config(path, {})


def test_example_config_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).parents[3] / "config" / "drsched.example.yaml"
    creds = tmp_path / "creds"
    creds.mkdir()
    text = example.read_text().replace("/run/credentials/drsched.service", str(creds))
    for name in ("dr-token", "becon-service-key", "becon-key"):
        (creds / name).write_text(f"{name}-value")
    config = load_config(write(tmp_path, text), {})
    assert config.hvac.targets[1].facilities == ["IDU-0201"]
    assert config.becon.secret_key.get_secret_value() == "becon-key-value"


def test_dr_programs_in_the_config_become_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dr_programs:\n"
        "  - id: winter\n"
        "    timezone: America/New_York\n"
        '    season: {from: "11-01", until: "03-31"}\n'
        "    max_events: {month: 5}\n"
        "    opt_out_budget: {count: 3}\n",
    )
    (rules,) = load_config(path, {}).program_rules()
    assert rules.program_id == "winter"
    assert rules.season is not None
    assert rules.season.wraps
    assert rules.opt_out_budget is not None
    assert rules.opt_out_budget.count == 3


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: w, max_events: {month: 5}}", "dr_programs[0].timezone: Field required"),
        (
            "{id: w, timezone: America/New_York, hours: {from: '20:00', until: '08:00'}}",
            "dr_programs[0]: hours: until 08:00 is not after from 20:00",
        ),
    ],
)
def test_bad_dr_programs_in_the_config_name_the_key(
    tmp_path: Path, entry: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"dr_programs:\n  - {entry}\n"), {})
    assert [p.message for p in caught.value.problems] == [message]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["  cert_file: /etc/drsched/ven.crt"],
            "openadr: key_file: give cert_file and key_file together (or neither)",
        ),
        (
            ["  cert_file: /etc/drsched/ven.crt", "  key_file: /etc/drsched/ven.key"],
            "openadr: vtn_fingerprint: required with cert_file",
        ),
        (
            [
                "  market_contexts:",
                "    - {market_context: 'oadr://u/p', vtn_id: v, targets: [{ven: CE-02}],",
                "       signals: [{signal: PRICE, targets: [x]}]}",
            ],
            "openadr.market_contexts[0].signals[0].signal: Input should be 'SIMPLE'",
        ),
    ],
)
def test_openadr_config_problems_are_named(tmp_path: Path, lines: list[str], message: str) -> None:
    config = tmp_path / "drsched.yaml"
    head = ["openadr:", "  vtn_url: https://vtn.example.com/OpenADR2/Simple/2.0b", "  ven_name: a"]
    config.write_text("\n".join([*head, *lines]) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(config, {})
    assert message in str(caught.value)


def test_openadr_is_off_by_default() -> None:
    assert load_config(None, {}).openadr is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0s", timedelta(0)), ("10m", timedelta(minutes=10)), ("1h", timedelta(hours=1))],
)
def test_hvac_randomize_start_within_bounds(value: str, expected: timedelta) -> None:
    config = load_config(None, {"DRSCHED_HVAC__RANDOMIZE_START": value})
    assert config.hvac.randomize_start == expected


@pytest.mark.parametrize("value", ["2h", "-5m", "soon"])
def test_hvac_randomize_start_out_of_bounds_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="randomize_start"):
        load_config(None, {"DRSCHED_HVAC__RANDOMIZE_START": value})


def test_hvac_restore_ramp_is_checked_like_the_plan_key() -> None:
    assert load_config(None, {"DRSCHED_HVAC__RESTORE_RAMP": "1F/5m"}).hvac.restore_ramp == "1F/5m"
    with pytest.raises(ConfigError, match="write STEP/EVERY"):
        load_config(None, {"DRSCHED_HVAC__RESTORE_RAMP": "1F"})
    with pytest.raises(ConfigError, match="out of range"):
        load_config(None, {"DRSCHED_HVAC__RESTORE_RAMP": "1F/5s"})
