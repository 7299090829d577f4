"""One country's public holidays from the ``holidays`` package, without importing all of them.

``holidays.country_holidays("US")`` imports the package ``holidays.countries``, whose
``__init__`` imports every one of its ~250 country modules: 0.05–0.1 s, a quarter of
``drsched plan validate`` of the examples (issue 14). The package's own registry
(``holidays.registry.COUNTRIES``, what its lazy ``EntityLoader`` reads) names the module
of each code, and a country module needs no more of its parent package than its
``__path__`` (its siblings are imported by their full names). So, for the length of that
one import, the parent package is stood in for by its bare module object (made from its
spec; its ``__init__`` not run); then it and the country modules imported under it are
taken out of ``sys.modules`` again. The process's import state is left as it was: a later
``import holidays.countries`` anywhere runs the real ``__init__``. The class is kept here.

Anything else — ``holidays.countries`` already imported, a code the registry does not
list, a release that moved things — goes through ``holidays.country_holidays`` as
before: the same calendar at the old price. ``tests/unit/plans/test_holiday_calendars.py``
checks that both ways give the same dates.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from functools import cache
from types import ModuleType
from typing import Any

_PACKAGE = "holidays.countries"

#: The country modules imported here, kept alive with their classes (they are no longer
#: in ``sys.modules``).
_KEPT: list[ModuleType] = []


def country_holidays(country: str, subdiv: str | None, years: Iterable[int]) -> Any:
    """``holidays.country_holidays(country, subdiv=subdiv, years=years)``: the same
    calendar (a ``HolidayBase``), raising ``NotImplementedError`` for a country or
    subdivision the package does not have, as it does."""
    entity = _entity(country)
    if entity is None:
        import holidays

        return holidays.country_holidays(country, subdiv=subdiv, years=years)
    try:
        return entity(years=years, subdiv=subdiv)
    except AttributeError as exc:  # as country_holidays reports it
        raise NotImplementedError(f"Country {country} not available") from exc


@cache
def _entity(code: str) -> Any | None:
    """The holiday class of country ``code``, or None to go the package's own way."""
    try:
        from holidays.registry import COUNTRIES, IMPORT_LOCK

        found = [(module, names[0]) for module, names in COUNTRIES.items() if code in names[1:]]
        if len(found) != 1:
            return None
        module_name, class_name = found[0]
        with IMPORT_LOCK:  # the lock the package's own lazy loaders import under
            module = _country_module(module_name)
    except Exception:  # a release laid out otherwise: the package's own way still works
        return None
    entity = getattr(module, class_name, None) if module is not None else None
    return entity if isinstance(entity, type) else None


def _country_module(name: str) -> ModuleType | None:
    """``holidays.countries.NAME`` imported without running ``holidays/countries/__init__``."""
    if _PACKAGE in sys.modules:  # imported for real already: nothing to save
        return importlib.import_module(f"{_PACKAGE}.{name}")
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        return None
    sys.modules[_PACKAGE] = importlib.util.module_from_spec(spec)
    try:
        return importlib.import_module(f"{_PACKAGE}.{name}")
    finally:
        for loaded in [m for m in sys.modules if m == _PACKAGE or m.startswith(f"{_PACKAGE}.")]:
            _KEPT.append(sys.modules.pop(loaded))
