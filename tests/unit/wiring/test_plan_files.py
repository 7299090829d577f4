"""`drsched run` re-reads plans.paths from the config on SIGHUP; a bad config keeps the old."""

from __future__ import annotations

from structlog.testing import capture_logs

from scheduler.config import Config, PlansConfig
from scheduler.errors import ConfigError
from scheduler.wiring import PlanFiles


def test_reload_rereads_paths_and_a_bad_config_keeps_the_previous() -> None:
    answers: list[Config | ConfigError] = [
        Config(plans=PlansConfig(paths=["/new/*.yaml"])),
        ConfigError.single("drsched.yaml", "dr_api.submit_lead: invalid duration"),
    ]

    def reload_config() -> Config:
        answer = answers.pop(0)
        if isinstance(answer, ConfigError):
            raise answer
        return answer

    files = PlanFiles(Config(plans=PlansConfig(paths=["/old/*.yaml"])), reload_config)
    assert files.current() == ["/old/*.yaml"]  # start-up: the config just loaded
    assert files.current() == ["/new/*.yaml"]  # first SIGHUP
    with capture_logs() as logs:
        assert files.current() == ["/new/*.yaml"]  # second SIGHUP, config broken
    assert logs[0]["event"] == "config.reload_failed"
    assert "submit_lead" in logs[0]["error"]
