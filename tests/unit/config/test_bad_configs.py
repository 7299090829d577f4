"""Every file in ``tests/data/bad_configs`` is refused with the message it expects.

Each file starts with one or more ``# expect: <text>`` lines: each text must be
in the ConfigError's message, and there must be exactly one problem per
line (every problem at once, none twice). A problem names the key it is
about (``dr_api.submit_lead: ...``, ``hvac.targets[0].types: ...``) or,
for YAML syntax, its line and column.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.errors import ConfigError

BAD_CONFIGS = Path(__file__).parents[2] / "data" / "bad_configs"
EXPECT = re.compile(r"^# expect: (.+)$", re.MULTILINE)
#: ``section.key``, ``section.list[0].key``, optionally ``(credential name)``, then ``: ``.
KEY = re.compile(r"^[a-z_]+(\.[a-z_]+|\[\d+\])*( \([^)]*\))?: ")
WHOLE_FILE = "the config must be a mapping of sections"


def _expectations(path: Path) -> list[str]:
    found = EXPECT.findall(path.read_text())
    assert found, f"{path.name} has no '# expect:' line"
    return found


def _files() -> list[Path]:
    return sorted(BAD_CONFIGS.glob("*.yaml"))


def test_there_are_bad_configs_for_every_kind_of_mistake() -> None:
    assert len(_files()) >= 12


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_a_bad_config_is_refused_naming_the_key(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value)
    expected = _expectations(path)
    for expectation in expected:
        assert expectation in text
    assert len(info.value.problems) == len(expected), text
    for problem in info.value.problems:
        assert problem.file == str(path)
        named = problem.line > 0 or KEY.match(problem.message) or problem.message == WHOLE_FILE
        assert named, f"{problem} names neither a key nor a position"


def test_an_environment_override_is_checked_like_the_file() -> None:
    env = {"DRSCHED_HVAC__OVERRIDE": "ignore", "DRSCHED_DR_API__TIMEOUT": "0s"}
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    assert [p.message.split(":")[0] for p in info.value.problems] == [
        "dr_api.timeout (DRSCHED_DR_API__TIMEOUT)",
        "hvac.override (DRSCHED_HVAC__OVERRIDE)",
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DRSCHED_HTTP__LISTEN": "8080"},
            "http.listen (DRSCHED_HTTP__LISTEN): '8080' is not host:port "
            "(e.g. 127.0.0.1:9464 or [::1]:9464)",
        ),
        (
            {"DRSCHED_HVAC__TARGETS": "[{ven: a"},
            "DRSCHED_HVAC__TARGETS: not valid YAML (expected ',' or '}', but got '<stream end>')",
        ),
        (
            {"DRSCHED_DR_API": "foo"},
            "DRSCHED_DR_API: no such setting (write DRSCHED_<SECTION>__<KEY> for a config key, "
            "e.g. DRSCHED_DR_API__TIMEOUT; see docs/config.md)",
        ),
        (
            {"DRSCHED_HVAC__VERIFY": "5m"},
            "DRSCHED_HVAC__VERIFY: no such setting (write DRSCHED_<SECTION>__<KEY> for a config "
            "key, e.g. DRSCHED_DR_API__TIMEOUT; see docs/config.md)",
        ),
        (
            {"DRSCHED_BECON__SECRET_KEY_FILE": "/nonexistent/key"},
            "becon.secret_key_file (DRSCHED_BECON__SECRET_KEY_FILE): "
            "cannot read secret file /nonexistent/key: No such file or directory",
        ),
        (
            {"DRSCHED_HVAC__TARGETS": "[{ven: a, site: s}]"},
            "hvac.targets[0].gateway (DRSCHED_HVAC__TARGETS): Field required",
        ),
    ],
)
def test_every_environment_problem_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, env=env)
    assert [p.message for p in info.value.problems] == [message]


def test_a_number_where_text_is_expected_is_text() -> None:
    env = {
        "DRSCHED_DR_API__SERVICE_ID": "0123",
        "DRSCHED_BECON__SERVICE_ID": "123",
        "DRSCHED_HVAC__TARGETS": "[{ven: 7, site: 1, gateway: 2}]",
        "DRSCHED_CONFIG": "/ignored/here",
        "DRSCHED_TEST_PG_URL": "reserved for the test suite",
    }
    config = load_config(None, env=env)
    assert (config.dr_api.service_id, config.becon.service_id) == ("0123", "123")
    assert (config.hvac.targets[0].ven, config.hvac.targets[0].gateway) == ("7", "2")


def test_a_bad_systemd_credential_names_the_key_and_the_credential(tmp_path: Path) -> None:
    (tmp_path / "dr-token").write_text("\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert str(info.value) == (
        f"<defaults>: dr_api.service_token (credential dr-token): "
        f"secret file {tmp_path / 'dr-token'} is empty"
    )
