"""``drsched config check``: valid configs print redacted; a signer plug-in must import."""

from __future__ import annotations

import json

import pytest

from scheduler.cli import main


def test_the_effective_config_is_printed_with_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    monkeypatch.setenv("DRSCHED_DR_API__SERVICE_TOKEN", "s3cr3t-token")
    assert main(["config", "check", "--json"]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-token" not in out
    assert json.loads(out)["valid"] is True


def test_a_signer_that_cannot_be_imported_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    monkeypatch.setenv("DRSCHED_BECON__SIGNER", "no_such_module:sign")
    assert main(["config", "check"]) == 2
    assert "becon.signer: cannot import 'no_such_module'" in capsys.readouterr().err
