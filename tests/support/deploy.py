"""What the deploy/ tests and the e2e scrape share: the deploy/ scripts, Prometheus' tools."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

DEPLOY = Path(__file__).parents[2] / "deploy"


def load_script(relative: str) -> ModuleType:
    """A script under deploy/ as a module (deploy/ is not a package: it ships as files)."""
    path = DEPLOY / relative
    name = f"drsched_deploy_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def prometheus_tool(name: str) -> str:
    """The path of ``promtool`` or ``prometheus``; skips outside CI when it is missing.

    In CI (``CI=true``) a missing tool fails the test: ``.ci/run`` installs Debian's
    ``prometheus`` package, which provides both.
    """
    found = shutil.which(name)
    if found is not None:
        return found
    message = f"{name} is not installed (Debian: apt-get install prometheus; .ci/run does it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
