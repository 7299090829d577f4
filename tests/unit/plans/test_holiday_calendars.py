"""One country's holidays without importing all of them: the same dates as the package's way.

Each check runs in a fresh interpreter, since which way is taken depends on what the
process has imported already (``holidays.countries`` imported for real: the package's way).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

#: Countries (and subdivisions) whose modules import others (AS: the US; AX: Finland;
#: PR: the US), aliases (USA, UK), and calendars computed rather than listed (lunar, Islamic).
CASES = [
    ("US", None),
    ("USA", None),
    ("US", "CA"),
    ("US", "MA"),
    ("GB", None),
    ("UK", None),
    ("DE", "BY"),
    ("FR", None),
    ("AS", None),
    ("AX", None),
    ("PR", None),
    ("CN", None),
    ("SA", None),
    ("IN", None),
]
YEARS = [2025, 2026, 2027, 2028]

_SCRIPT = """
import json, sys
from scheduler.plans.holiday_calendars import country_holidays
cases = json.loads(sys.argv[1])
years = json.loads(sys.argv[2])
ours = [sorted(str(d) for d in country_holidays(c, s, years)) for c, s in cases]
left = sorted(m for m in sys.modules if m.startswith("holidays.countries"))
import holidays
theirs = [
    sorted(str(d) for d in holidays.country_holidays(c, subdiv=s, years=years)) for c, s in cases
]
from holidays.countries import UnitedStates  # the real package still imports afterwards
print(json.dumps({"ours": ours, "theirs": theirs, "left": left}))
"""


def run(script: str, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_dates_are_the_packages_and_its_import_state_is_left_alone() -> None:
    found = run(_SCRIPT, json.dumps(CASES), json.dumps(YEARS))
    assert found["left"] == [], "no country module (nor a stand-in package) stays imported"
    for case, ours, theirs in zip(CASES, found["ours"], found["theirs"], strict=True):
        assert ours == theirs, case
        assert len(ours) >= 4 * len(YEARS), case


_ONE = """
import json, sys

class Seen:
    \"\"\"Every country module the process goes looking for.\"\"\"
    names = []

    def find_spec(self, name, path, target=None):
        if name.startswith("holidays.countries"):
            self.names.append(name)

sys.meta_path.insert(0, Seen())
from scheduler.plans.holiday_calendars import country_holidays
assert "2026-07-03" in {str(d) for d in country_holidays("US", None, [2026])}
print(json.dumps(Seen.names))
"""


def test_only_the_country_asked_for_is_imported() -> None:
    """The imports issue 14 took out: a US calendar looks for the package (its stand-in is
    made from its spec) and the one country module, none of the other ~250."""
    assert run(_ONE) == ["holidays.countries", "holidays.countries.united_states"]


@pytest.mark.parametrize(("country", "subdiv"), [("XX", None), ("US", "XY"), ("MON", None)])
def test_what_the_package_has_not_is_reported_as_it_reports_it(
    country: str, subdiv: str | None
) -> None:
    from scheduler.plans.holiday_calendars import country_holidays

    with pytest.raises((NotImplementedError, TypeError)):
        country_holidays(country, subdiv, [2026])
