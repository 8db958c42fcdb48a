"""Workflow and journey specs: what a valid file means, and errors that name the file, the activity and why."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from herald.cli import build_parser
from herald.project import find_project
from orchestration.cron import Cron
from orchestration.errors import WorkflowSpecError
from orchestration.spec import load_journey, load_workflow
from orchestration.workflows import load_workflows


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_workflows_and_journeys_load() -> None:
    flows = {f.name: f for f in load_workflows(find_project())}
    assert {"nightly_winter_sale", "welcome"} <= set(flows)
    nightly = flows["nightly_winter_sale"]
    assert [a.type for a in nightly.activities] == ["import", "build", "audience", "test", "deliver", "end"]
    assert nightly.activity("big_enough").next == ("send", "done")
    assert nightly.activity("send").breakers.max_audience_change_percent == 30


def test_activities_follow_the_list_unless_they_name_next(tmp_path: Path) -> None:
    flow = load_workflow(
        write(
            tmp_path,
            "f",
            """
            workflow: f
            trigger: api
            activities:
            - {id: a, type: build, next: c}
            - {id: b, type: wait, hours: 1, next: d}
            - {id: c, type: test, audience: vip, min: 1, then: b, else: d}
            - {id: d, type: end}
            """,
        )
    )
    assert [(a.id, a.next) for a in flow.activities] == [("a", ("c",)), ("b", ("d",)), ("c", ("b", "d")), ("d", ())]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- {id: a, type: send_all}", "activity 'a': type must be one of"),
        ("- {id: a, type: build, next: nowhere}", "activity 'a': goes to 'nowhere', which is not an activity"),
        ("- {id: a, type: deliver}", "activity 'a': a deliver activity needs delivery"),
        ("- {id: a, type: build, colour: red}", "activity 'a': unknown key(s) colour"),
        ("- {id: a, type: wait_until, time: '25:99'}", "activity 'a': time must be a local time HH:MM"),
        ("- {id: a, type: export, table: t, audience: x, out: o.csv}", "activity 'a': an export names exactly one"),
        (
            "- {id: a, type: deliver, delivery: d, approval: {policy: auto}}",
            "activity 'a': approval.policy auto needs `by`",
        ),
        (
            "- {id: a, type: deliver, delivery: d, breakers: {max_audience_change_percent: -5}}",
            "activity 'a': breakers.max_audience_change_percent: expected a number above 0 and at most 10,000, got -5",
        ),
        ("- {id: a, type: build}\n- {id: a, type: end}", "activity 'a' is defined twice"),
        ("- {id: a, type: build, next: b}\n- {id: b, type: build, next: a}", "the graph loops (a → b → a)"),
        ("- {id: a, type: end}\n- {id: b, type: build}", "activity 'b' is never reached from 'a'"),
        ("- {id: a, type: test, audience: x, min: 1, then: a, else: a}", "the graph loops"),
    ],
)
def test_invalid_activities_are_named_with_the_file(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, "broken", "workflow: broken\ntrigger: api\nactivities:\n" + body + "\n")
    with pytest.raises(WorkflowSpecError) as info:
        load_workflow(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ("schedule: {cron: '0 25 * * *'}", "cron hour field: '25' is outside 0-23"),
        ("schedule: {cron: '0 9 * *'}", "cron needs five fields"),
        ("schedule: {cron: '0 9 * * *', time_zone: Mars/Olympus}", "unknown time zone 'Mars/Olympus'"),
        ("schedule: {cron: '0 9 * * *'}\ntrigger: api", "exactly one of `schedule`"),
        ("trigger: {file: {}}", "trigger.file.folder must name a folder"),
    ],
)
def test_invalid_schedules(tmp_path: Path, head: str, message: str) -> None:
    path = write(tmp_path, "w", f"workflow: w\n{head}\nactivities:\n- {{id: a, type: end}}\n")
    with pytest.raises(WorkflowSpecError) as info:
        load_workflow(path)
    assert message in str(info.value)


def test_a_workflow_naming_a_missing_journey_fails_to_load(tmp_path: Path) -> None:
    from herald.project import Project

    root = tmp_path / "p"
    (root / "specs" / "workflows").mkdir(parents=True)
    write(
        root / "specs" / "workflows",
        "w",
        "workflow: w\ntrigger: api\nactivities:\n- {id: j, type: journey, journey: ghost}\n",
    )
    with pytest.raises(WorkflowSpecError, match=r"activity 'j': no journey file .*ghost\.yml"):
        load_workflows(Project(root=root, warehouse_dir=tmp_path / "wh"))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("- {id: s, day: 0, channel: fax, template: t}", "step 's': channel must be email or sms"),
        (
            "- {id: s, day: -1, channel: sms, template: t}",
            "step 's': day: expected a whole number of days from 0 to 36,600",
        ),
        ("- {id: s, day: 0, channel: sms, template: t, after: later}", "step 's': after must name an earlier step"),
        ("- {id: s, day: 0, channel: email, template: t}", "step 's': an email step needs sender"),
        ("- {id: s, day: 0, channel: sms, template: t, unless: opened}", "step 's': unless must be opened or clicked"),
    ],
)
def test_invalid_journey_steps(tmp_path: Path, steps: str, message: str) -> None:
    path = write(tmp_path, "j", f"journey: j\nstart: 2026-11-01\nsteps:\n{steps}\n")
    with pytest.raises(WorkflowSpecError) as info:
        load_journey(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_cron_in_a_time_zone_across_daylight_saving() -> None:
    paris = Cron.parse("30 2 * * *", "Europe/Paris")
    utc = dt.UTC
    # 2026-03-29: 02:30 does not exist in Paris (clocks jump 02:00 → 03:00); 2026-10-25: it happens once, not twice.
    spring = list(paris.between(dt.datetime(2026, 3, 28, tzinfo=utc), dt.datetime(2026, 3, 30, 12, tzinfo=utc)))
    assert spring == [dt.datetime(2026, 3, 28, 1, 30, tzinfo=utc), dt.datetime(2026, 3, 30, 0, 30, tzinfo=utc)]
    autumn = list(paris.between(dt.datetime(2026, 10, 24, 12, tzinfo=utc), dt.datetime(2026, 10, 25, 12, tzinfo=utc)))
    assert autumn == [dt.datetime(2026, 10, 25, 0, 30, tzinfo=utc)]


def test_cron_lists_ranges_steps_names_and_either_day_field() -> None:
    c = Cron.parse("*/20 8-9 1 jan,jul mon")
    fired = list(c.between(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 6, tzinfo=dt.UTC)))
    # 1 January (the day of month) and Monday 5 January (the weekday), at 08:00, 08:20, … 09:40.
    assert [f.strftime("%d %H:%M") for f in fired] == [
        f"{d} {h}:{m}" for d in ("01", "05") for h in ("08", "09") for m in ("00", "20", "40")
    ]
    assert c.latest(dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)) == dt.datetime(2026, 1, 5, 9, 20, tzinfo=dt.UTC)


def test_run_has_help() -> None:
    parser = build_parser()
    text = parser.format_help()
    assert "herald run" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--help"])
