"""Fixtures of the deploy/ tests: Prometheus' ``promtool``."""

from __future__ import annotations

import pytest

from tests.support.deploy import prometheus_tool


@pytest.fixture
def promtool() -> str:
    return prometheus_tool("promtool")
