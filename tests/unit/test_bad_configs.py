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

BAD_CONFIGS = Path(__file__).parents[1] / "data" / "bad_configs"
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
        "dr_api.timeout",
        "hvac.override",
    ]


def test_a_bad_systemd_credential_names_the_key_and_the_credential(tmp_path: Path) -> None:
    (tmp_path / "dr-token").write_text("\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert str(info.value) == (
        f"<defaults>: dr_api.service_token (credential dr-token): "
        f"secret file {tmp_path / 'dr-token'} is empty"
    )
