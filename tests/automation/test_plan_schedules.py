"""A delivery's plan schedule runs by itself: `herald run` works on it as a one-activity workflow when no workflow
names the delivery, once at its time (or on its cron, or on entries), never before and never twice."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from herald.project import Project
from orchestration.errors import WorkflowSpecError
from orchestration.journal import RunJournal
from orchestration.logs import RunLog
from orchestration.scheduler import run_scheduler
from orchestration.workflows import load_workflows, workflow_by_name
from tests.conftest import make_scratch_project


@pytest.fixture
def specs(tmp_path: Path) -> Project:
    return make_scratch_project(tmp_path)


def due(project: Project, now: str, workflow: str) -> list[str]:
    out = io.StringIO()
    clock = dt.datetime.fromisoformat(now)
    assert run_scheduler(project, now=clock, workflow=workflow, dry_run=True, log=RunLog(out)) == 0
    return [str(x["run"]) for x in map(json.loads, out.getvalue().splitlines()) if x["event"] == "due"]


def test_a_scheduled_delivery_no_workflow_names_becomes_a_workflow(specs: Project) -> None:
    names = {f.name for f in load_workflows(specs)}
    # winter_sale_sms has `at: 2026-12-04 12:00 Europe/Paris` and no workflow; nightly_winter_sale sends the email.
    assert "delivery__winter_sale_sms" in names and "delivery__winter_sale_email" not in names
    flow = workflow_by_name(specs, "delivery__winter_sale_sms")
    assert flow.trigger.kind == "once" and flow.trigger.at == dt.datetime(2026, 12, 4, 11, 0, tzinfo=dt.UTC)
    (activity,) = flow.activities
    assert activity.type == "deliver" and activity.options["delivery"] == "winter_sale_sms"
    assert activity.options["approval"] == {"policy": "wait"}  # a person approves when the plan requires it


def test_once_is_due_at_its_time_and_never_again(specs: Project) -> None:
    flow = "delivery__winter_sale_sms"
    assert due(specs, "2026-12-04T10:59:00+00:00", flow) == []
    assert due(specs, "2026-12-04T11:00:00+00:00", flow) == ["20261204T110000Z"]
    assert due(specs, "2026-12-09T08:00:00+00:00", flow) == ["20261204T110000Z"]  # a late scheduler still sends
    journal = RunJournal(specs, flow, "20261204T110000Z")
    journal.append("run_started", scheduled="2026-12-04T11:00:00+00:00")
    journal.append("run_finished", status="succeeded")
    assert due(specs, "2026-12-09T08:00:00+00:00", flow) == []


def test_a_recurring_schedule_and_a_workflow_taking_a_delivery_over(specs: Project) -> None:
    plan = specs.specs_dir / "plans" / "winter_2026.yml"
    text = plan.read_text(encoding="utf-8")
    plan.write_text(
        text.replace('schedule: {at: "2026-12-04 12:00", time_zone: Europe/Paris}', 'schedule: {cron: "0 9 * * MON"}'),
        encoding="utf-8",
    )
    assert due(specs, "2026-12-08T12:00:00+00:00", "delivery__winter_sale_sms") == ["20261207T090000Z"]
    # Once a workflow names the delivery, that workflow sends it: the plan schedule no longer does.
    (specs.specs_dir / "workflows" / "sms.yml").write_text(
        "workflow: sms\ntrigger: api\nactivities:\n- {id: send, type: deliver, delivery: winter_sale_sms}\n",
        encoding="utf-8",
    )
    assert "delivery__winter_sale_sms" not in {f.name for f in load_workflows(specs)}


def test_a_broken_plan_stops_the_scheduler_with_its_reason(specs: Project) -> None:
    plan = specs.specs_dir / "plans" / "winter_2026.yml"
    plan.write_text(plan.read_text(encoding="utf-8").replace("time_zone: Europe/Paris", "time_zone: Mars/Olympus"))
    with pytest.raises(WorkflowSpecError, match=r"the plans cannot be read.*Mars/Olympus"):
        load_workflows(specs)
