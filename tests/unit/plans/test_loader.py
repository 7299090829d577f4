"""load_plans and resolve_plan_paths: many files, ids across files, every problem of every file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.errors import PlanError
from scheduler.plans import load_plans, resolve_plan_paths

DATA = Path(__file__).parents[2] / "data" / "plans"
NORTH, SOUTH = DATA / "north.yaml", DATA / "south.yaml"

EVENT = """\
timezone: UTC
defaults: {{vtn_id: v, targets: [{{ven: {ven}}}], signals: [{{name: SIMPLE, targets: [T]}}]}}
events:
  - id: {id}
    start: 2026-07-15 14:00
    end: 2026-07-15 15:00
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problem_lines(paths: list[Path]) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plans(paths)
    return [str(p) for p in caught.value.problems]


def test_events_of_all_files_sorted_by_start_then_id() -> None:
    found = load_plans([SOUTH, NORTH])
    assert len(found) == 1 + 22 + 2  # north: 1 + 22 July weekdays (July 3 skipped); south: 2
    keys = [(e.start, e.event_id) for e in found]
    assert keys == sorted(keys)
    assert [e.event_id for e in found[:2]] == ["north-weekday-20260701", "south-1"]
    assert found[0].start == found[1].start == datetime(2026, 7, 1, 19, 0, tzinfo=UTC)
    assert found[1].source == f"{SOUTH}:10"


def test_loading_is_the_same_whatever_the_file_order() -> None:
    assert load_plans([NORTH, SOUTH]) == load_plans([SOUTH, NORTH])


def test_duplicate_id_across_files_names_both_positions(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", EVENT.format(ven="A", id="peak"))
    b = write(tmp_path, "b.yaml", EVENT.format(ven="B", id="peak"))
    assert problem_lines([a, b]) == [f"{b}:4:5: duplicate event id 'peak' (also at {a}:4:5)"]


def test_the_same_file_by_two_paths_is_loaded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "ok.yaml", EVENT.format(ven="A", id="peak"))
    (tmp_path / "link.yaml").symlink_to(tmp_path / "ok.yaml")
    paths = [Path("ok.yaml"), tmp_path / "ok.yaml", Path("./ok.yaml"), Path("link.yaml")]
    assert [e.event_id for e in load_plans(paths)] == ["peak"]
    assert resolve_plan_paths(["ok.yaml", str(tmp_path / "*.yaml")]) == [tmp_path / "link.yaml"]


def test_each_use_of_an_alias_is_reported_where_it_is_used(tmp_path: Path) -> None:
    text = EVENT.format(ven="A", id="one").replace("start: 2026-07-15 14:00", "start: &t 12")
    text += "  - {id: two, start: *t, end: 2026-07-15 15:00}\n"
    text += "  - {id: three, start: *t, end: 2026-07-15 15:00}\n"
    lines = problem_lines([write(tmp_path, "alias.yaml", text)])
    assert [line.split(": start:")[0] for line in lines] == [
        f"{tmp_path / 'alias.yaml'}:5:12",
        f"{tmp_path / 'alias.yaml'}:7:22",
        f"{tmp_path / 'alias.yaml'}:8:24",
    ]


def test_overlap_across_files_names_both_events(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", EVENT.format(ven="SAME", id="one"))
    b = write(tmp_path, "b.yaml", EVENT.format(ven="SAME", id="two"))
    assert problem_lines([a, b]) == [
        f"{b}:4:5: event 'two' (2026-07-15 14:00–15:00 UTC) overlaps event 'one' "
        f"(2026-07-15 14:00–15:00 UTC, {a}:4:5) on VEN SAME"
    ]


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", EVENT.format(ven="A", id="bad id"))
    b = write(tmp_path, "b.yaml", "events: [\n")
    c = tmp_path / "c.yaml"
    c.write_bytes(b"timezone: UTC\n# caf\xe9\n")  # Latin-1, not UTF-8
    missing = tmp_path / "missing.yaml"
    assert problem_lines([a, b, c, missing]) == [
        f"{a}:4:9: id 'bad id' is not a valid id: use 1–64 of A-Z a-z 0-9 . _ - (not . or ..)",
        f"{b}:2:1: YAML syntax: expected the node content, but found '<stream end>'",
        f"{c}:1:1: cannot read plan: not UTF-8 text (byte 19)",
        f"{missing}:1:1: cannot read plan: No such file or directory",
    ]


def test_directories_and_impossible_paths_are_problems(tmp_path: Path) -> None:
    assert problem_lines([tmp_path, Path("bad\0name.yaml")]) == [
        f"{tmp_path}:1:1: cannot read plan: Is a directory",
        "bad\0name.yaml:1:1: cannot read plan: embedded null byte",
    ]


def test_no_files_no_events() -> None:
    assert load_plans([]) == []


def test_resolve_expands_sorts_and_deduplicates(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yaml", "notes.txt"):
        write(tmp_path, name, "")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c.yaml", "")
    found = resolve_plan_paths(
        [f"{tmp_path}/*.yaml", str(tmp_path / "a.yaml"), f"{tmp_path}/**/*.yaml"]
    )
    assert found == [tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "sub" / "c.yaml"]


def test_resolve_names_each_pattern_that_matches_nothing(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "")
    with pytest.raises(PlanError) as caught:
        resolve_plan_paths([f"{tmp_path}/*.yml", f"{tmp_path}/a.yaml", f"{tmp_path}/gone.yaml"])
    assert sorted(p.file for p in caught.value.problems) == [
        f"{tmp_path}/*.yml",
        f"{tmp_path}/gone.yaml",
    ]
    assert {p.message for p in caught.value.problems} == {"no plan file matches this pattern"}
    assert (
        str(caught.value).splitlines()[0] == f"{tmp_path}/*.yml: no plan file matches this pattern"
    )


def test_resolve_ignores_directories_and_falls_back_to_a_literal_name(tmp_path: Path) -> None:
    write(tmp_path, "plan[1].yaml", "")
    (tmp_path / "dir.yaml").mkdir()
    assert resolve_plan_paths([str(tmp_path / "plan[1].yaml")]) == [tmp_path / "plan[1].yaml"]
    with pytest.raises(PlanError):
        resolve_plan_paths([str(tmp_path / "dir.yaml")])


def test_a_plan_file_over_the_size_limit_is_refused_unparsed(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (4 * 2**20) + "\nevents: []\n")
    assert problem_lines([big]) == [
        f"{big}:1:1: cannot read plan: larger than 4 MiB: split it into several files"
    ]


def test_more_events_than_the_limit_is_one_message(tmp_path: Path) -> None:
    """Six daily programs of 10,000 dates: past 50,000 events, one problem, no more work."""
    program = (
        "  - {{id: p{n}, targets: [{{ven: V{n}}}], rrule: FREQ=DAILY, from: 2030-01-01, "
        "until: 2057-05-01, start_time: '15:00', duration: 1h}}\n"
    )
    text = "timezone: UTC\ndefaults: {vtn_id: v, signals: [{name: SIMPLE, targets: [T]}]}\n"
    text += "programs:\n" + "".join(program.format(n=n) for n in range(6))
    many = write(tmp_path, "many.yaml", text)
    again = write(tmp_path, "again.yaml", text.replace("id: p", "id: q"))
    assert problem_lines([many, again]) == [
        f"{many}:9:5: the plans hold more than 50000 events (programs expanded): "
        "split them or shorten programs"
    ]
