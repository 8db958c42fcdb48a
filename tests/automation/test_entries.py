"""A workflow triggered by profiles entering an audience: one run per audience build that brought new members,
sending the triggered delivery to those entrants only, once; progress of its dbt build shows in the log."""

from __future__ import annotations

import json
import textwrap

import pytest

from herald import warehouse
from herald.audiences.service import build_and_report
from herald.campaigns.prepare import prepare
from herald.errors import PlanError
from herald.project import Project
from orchestration.errors import WorkflowSpecError
from orchestration.journal import run_history
from orchestration.workflows import load_workflows
from tests.automation.conftest import herald_run
from tests.fakes.sendgrid import FakeSendGrid

PLAN = """
program: entry_tests
campaigns:
- id: greetings
  deliveries:
  - id: hello_entrants
    channel: email
    topic: newsletter
    audience: first_in_line
    template: welcome_email
    sender: {from_name: Herald Shop, from_email: hello@shop.example}
    schedule: {trigger: {enters_audience: first_in_line}}
    typology: marketing_default
"""

WORKFLOW = """
workflow: greet_entrants
description: Greet each profile that enters first_in_line, once.
trigger: {enters_audience: first_in_line}
activities:
- {id: greet, type: deliver, delivery: hello_entrants, approval: {policy: auto, by: ops}}
"""


def write(project: Project, name: str, text: str) -> None:
    path = project.specs_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def audience(count: int) -> str:
    return f"name: first_in_line\nlimit: {{count: {count}, order_by: profile_id}}\n"


def members_by_build(project: Project) -> dict[str, set[str]]:
    con = warehouse.connect(project)
    try:
        rows = con.execute(
            "select build_id, profile_id from audience_memberships where audience_name = 'first_in_line'"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for build_id, profile_id in rows:
        out.setdefault(build_id, set()).add(profile_id)
    return out


def run_recipients(project: Project, run_id: str) -> tuple[set[str], set[str]]:
    """The run's audience members, and the addresses it may send to."""
    con = warehouse.connect(project)
    try:
        rows = con.execute(
            "select profile_id, address, is_sendable from delivery_run_recipients"
            " where run_id = ? and recipient_group <> 'seed'",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}, {r[1] for r in rows if r[2]}


def logged(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_entrants_of_each_new_audience_build_are_greeted_once(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    write(project, "audiences/first_in_line.yml", audience(40))
    write(project, "plans/entry_tests.yml", PLAN)
    write(project, "workflows/greet_entrants.yml", WORKFLOW)
    args = ["--workflow", "greet_entrants"]

    # Preparing the triggered delivery by hand would target the whole audience: refused, with the way to do it.
    with pytest.raises(PlanError, match=r"trigger: \{enters_audience: first_in_line\}"):
        prepare(project, "hello_entrants")

    build_and_report(project, ["first_in_line"])
    first = herald_run(project, fake, *args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    # One build of the audience is a baseline, not an entry: nobody is greeted for being there from the start.
    assert run_history(project, "greet_entrants") == [] and not fake.sent

    write(project, "audiences/first_in_line.yml", audience(55))
    build_and_report(project, ["first_in_line"])
    builds = members_by_build(project)
    baseline, latest = sorted(builds)
    entered = builds[latest] - builds[baseline]
    assert len(entered) == 15

    second = herald_run(project, fake, *args)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    (record,) = run_history(project, "greet_entrants")
    assert record.key == f"enter-{latest}" and record.status == "succeeded"
    lines = logged(second.stdout)
    started = next(x for x in lines if x["event"] == "run_started")
    assert started["entry"] == {"audience": "first_in_line", "build_id": latest, "baseline_id": baseline}
    # The preparation's dbt build reported its progress, ending at its last node.
    progress = [x for x in lines if x["event"] == "progress" and x.get("step") == "dbt build"]
    assert progress and progress[-1]["done"] == progress[-1]["total"] and progress[-1]["activity"] == "greet"

    finished = next(x for x in lines if x["event"] == "activity_finished")
    members, sendable = run_recipients(project, str(finished["prepared_run"]))
    assert members == entered  # the entrants, not the 55 members
    assert sendable, "some entrants are reachable and opted in"
    assert {m.to[0] for m in fake.sent} == sendable and not fake.duplicates()

    # Nothing new entered: the next run starts nothing and sends nothing.
    sent_before = len(fake.sent)
    third = herald_run(project, fake, *args)
    assert third.returncode == 0 and "run_started" not in third.stdout
    assert len(run_history(project, "greet_entrants")) == 1 and len(fake.sent) == sent_before


def test_an_entry_trigger_must_name_a_saved_audience(auto_project: Project) -> None:
    write(auto_project, "workflows/greet.yml", WORKFLOW.replace("greet_entrants", "greet"))
    with pytest.raises(WorkflowSpecError, match=r"greet.yml: trigger.enters_audience: no audience spec"):
        load_workflows(auto_project)
    write(auto_project, "workflows/greet.yml", WORKFLOW.replace("{enters_audience: first_in_line}", "{when: x}"))
    with pytest.raises(WorkflowSpecError, match="unknown key"):
        load_workflows(auto_project)
