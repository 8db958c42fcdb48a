"""Circuit breakers: a stale source or an audience jump stops a delivery with the reason; an operator's override
is recorded and lets the run continue — with the prepared run reused, never prepared twice."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from herald import warehouse
from herald.project import Project
from orchestration.breakers import audience_jump, read_overrides, record_override, use_override
from orchestration.errors import AutomationError
from orchestration.journal import RunJournal, run_history
from orchestration.spec import Breakers
from tests.automation.conftest import herald_run
from tests.fakes.sendgrid import FakeSendGrid

WORKFLOW = """
workflow: winter_send
description: Prepare and send the winter sale email when asked, unless a source is stale.
trigger: api
activities:
- id: send
  type: deliver
  delivery: winter_sale_email
  approval: {policy: auto, by: anna}
  breakers: {max_source_age_hours: 48, sources: [crm_contacts], max_audience_change_percent: 30}
"""


def logged(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def delivery_runs(project: Project) -> list[str]:
    con = warehouse.connect(project)
    try:
        return [
            r[0]
            for r in con.execute("select run_id from delivery_runs where delivery_id = 'winter_sale_email'").fetchall()
        ]
    finally:
        con.close()


def test_a_stale_source_blocks_until_an_override_is_recorded(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    (project.specs_dir / "workflows" / "winter_send.yml").write_text(WORKFLOW, encoding="utf-8")
    # Three weeks after the demo's CRM batch landed: crm_contacts is stale.
    args = ["--workflow", "winter_send", "--now", "2026-12-20T08:00:00Z"]
    blocked = herald_run(project, fake, *args, "--start")
    assert blocked.returncode == 3, blocked.stdout[-2000:] + blocked.stderr[-2000:]
    line = next(x for x in logged(blocked.stdout) if x["event"] == "activity_blocked")
    assert "crm_contacts was last loaded" in str(line["reason"]) and "the limit is 48 h" in str(line["reason"])
    assert "herald run --override winter_sale_email" in str(line["reason"])
    assert delivery_runs(project) == []  # blocked before preparing anything
    # Run again without an override: the same run, still blocked, and no new one.
    again = herald_run(project, fake, *args)
    assert again.returncode == 3
    assert len(run_history(project, "winter_send")) == 1
    # The operator overrides; the run resumes, prepares, approves as anna (its policy) and sends.
    sent = herald_run(
        project, fake, *args, "--override", "winter_sale_email", "--reason", "CRM late; checked", "--by", "ops"
    )
    assert sent.returncode == 0, sent.stdout[-4000:] + sent.stderr[-2000:]
    assert "Override" in sent.stdout and "recorded" in sent.stdout
    (record,) = run_history(project, "winter_send")
    assert record.status == "succeeded"
    journal = RunJournal(project, "winter_send", record.key)
    override = next(x for x in journal.lines if x.event == "override")
    assert override.data["by"] == "ops" and override.data["reason"] == "CRM late; checked"
    assert any("crm_contacts" in b for b in override.data["breakers"])
    overrides, used = read_overrides(project)
    assert [o.by for o in overrides] == ["ops"] and used == {overrides[0].id: f"winter_send/{record.key}"}
    (run_id,) = delivery_runs(project)
    assert journal.checkpoint("send", "prepared_run") == run_id
    assert fake.accepted_ids() and not fake.duplicates()
    # The override was used once: the next run of the delivery is blocked again.
    assert use_override(project, "winter_sale_email", "winter_send/another") is None


def test_an_audience_jump_trips_with_the_sizes(tmp_path: Path) -> None:
    project = Project(root=tmp_path, warehouse_dir=tmp_path / "warehouse")
    project.published_dir.mkdir(parents=True)
    con = duckdb.connect(str(project.published_dir / "herald-1.duckdb"))
    con.execute("create table delivery_runs (run_id varchar, delivery_id varchar, audience_size bigint)")
    con.execute("insert into delivery_runs values ('r1-d', 'd', 1000), ('r2-d', 'd', 1250), ('r3-d', 'd', 2100)")
    con.close()
    project.current_pointer.write_text("herald-1.duckdb", encoding="utf-8")
    breakers = Breakers(max_audience_change_percent=30)
    assert audience_jump(project, breakers, "d", "r1-d") == []  # a first run has nothing to compare with
    assert audience_jump(project, breakers, "d", "r2-d") == []  # +25 %
    (trip,) = audience_jump(project, breakers, "d", "r3-d")  # +68 %
    assert trip.breaker == "audience_jump"
    assert "2,100, 68 % from 1,250 in the previous run r2-d; the limit is 30 %" in trip.reason
    assert audience_jump(project, Breakers(), "d", "r3-d") == []


def test_an_override_needs_who_and_why(tmp_path: Path) -> None:
    project = Project(root=tmp_path, warehouse_dir=tmp_path / "warehouse")
    with pytest.raises(AutomationError, match="who"):
        record_override(project, "d", by=" ", reason="because")
    o = record_override(project, "d", by="anna", reason="checked the counts")
    assert use_override(project, "d", "w/1") == o
    assert use_override(project, "d", "w/1") == o  # the run that took it keeps it when resumed
    assert use_override(project, "d", "w/2") is None
    assert dt.datetime.fromisoformat(o.at)
