"""What the plan digest covers: the files' names and bytes, and the config's programs."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from scheduler.domain.dr_programs import Period, ProgramRules
from scheduler.plans.digest import plan_digest


def files(tmp_path: Path, *texts: str) -> list[Path]:
    paths = []
    for n, text in enumerate(texts):
        path = tmp_path / f"{n}.yaml"
        path.write_text(text)
        paths.append(path)
    return paths


def test_the_same_files_give_the_same_digest(tmp_path: Path) -> None:
    paths = files(tmp_path, "events: []\n", "programs: []\n")
    assert plan_digest(paths) == plan_digest(list(paths))


def test_a_byte_changed_a_file_moved_or_added_changes_it(tmp_path: Path) -> None:
    paths = files(tmp_path, "events: []\n", "programs: []\n")
    before = plan_digest(paths)
    assert plan_digest(paths[:1]) != before
    assert plan_digest(list(reversed(paths))) != before
    paths[1].write_text("programs: [] \n")
    assert plan_digest(paths) != before
    paths[1].write_text("programs: []\n")
    assert plan_digest(paths) == before
    moved = paths[1].rename(tmp_path / "moved.yaml")  # the same bytes under another name
    assert plan_digest([paths[0], moved]) != before


def test_contents_do_not_run_together(tmp_path: Path) -> None:
    assert plan_digest(files(tmp_path, "ab", "c")) != plan_digest(files(tmp_path, "a", "bc"))


def test_the_config_programs_count(tmp_path: Path) -> None:
    paths = files(tmp_path, "events: []\n")
    rules = ProgramRules("cbp", ZoneInfo("America/New_York"), max_events={Period.MONTH: 2})
    other = ProgramRules("cbp", ZoneInfo("America/New_York"), max_events={Period.MONTH: 3})
    assert plan_digest(paths, [rules]) == plan_digest(paths, [rules])
    assert plan_digest(paths, [rules]) != plan_digest(paths)
    assert plan_digest(paths, [rules]) != plan_digest(paths, [other])


def test_an_unreadable_file_still_gives_a_digest(tmp_path: Path) -> None:
    missing = tmp_path / "gone.yaml"
    assert plan_digest([missing]) != plan_digest(files(tmp_path, ""))
