"""The activity graph on a simulated clock: a test branches on an audience's size, a wait holds the run across
`herald run`s, an export writes its file, a failed activity is retried by the next run, a file trigger imports each
new file once; all in process, without a dbt build."""

from __future__ import annotations

import datetime as dt
import io
import json
import textwrap

import pytest

from herald import warehouse
from herald.project import Project
from orchestration.errors import WorkflowSpecError
from orchestration.journal import pause_workflow, resume_workflow, run_history
from orchestration.logs import RunLog
from orchestration.scheduler import run_scheduler

T0 = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)


def write_workflow(project: Project, name: str, text: str) -> None:
    (project.specs_dir / "workflows" / f"{name}.yml").write_text(textwrap.dedent(text), encoding="utf-8")


def run(project: Project, now: dt.datetime, *args: str, **kw: object) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = run_scheduler(project, now=now, log=RunLog(out), **kw)  # type: ignore[arg-type]
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_branch_wait_export_and_retry(auto_project: Project) -> None:
    project = auto_project
    write_workflow(
        project,
        "snapshot",
        """
        workflow: snapshot
        trigger: api
        activities:
        - {id: enough_buyers, type: test, audience: recent_buyers, min: 1, then: settle, else: done}
        - {id: settle, type: wait, hours: 2}
        - {id: export, type: export, table: profile, out: "exports/profiles-{date}.csv"}
        - {id: done, type: end}
        """,
    )
    code, log = run(project, T0, workflow="snapshot", start=True)
    assert code == 0
    assert [x["event"] for x in log if x["event"].startswith("activity_")] == [
        "activity_started",
        "activity_finished",
        "activity_started",
        "activity_waiting",
    ]
    tested = next(x for x in log if x["event"] == "activity_finished")
    assert tested["passed"] is True and tested["next"] == "settle" and int(str(tested["members"])) > 0
    # An hour later the run still waits (its clock, not the wall clock, decides) and no new run starts.
    code, log = run(project, T0 + dt.timedelta(hours=1), workflow="snapshot")
    assert code == 0 and [x["event"] for x in log].count("activity_waiting") == 1
    # Three hours later the wait is over; the export names a table that does not exist: the run fails (exit 1).
    code, log = run(project, T0 + dt.timedelta(hours=3), workflow="snapshot")
    assert code == 1
    failed = next(x for x in log if x["event"] == "activity_failed")
    assert failed["activity"] == "export" and "no table 'profile'" in str(failed["error"])
    # Fixed, the next run resumes at the export (the test and the wait are not run again).
    spec = project.specs_dir / "workflows" / "snapshot.yml"
    spec.write_text(spec.read_text().replace("table: profile,", "table: profiles,"), encoding="utf-8")
    code, log = run(project, T0 + dt.timedelta(hours=4), workflow="snapshot")
    assert code == 0
    assert [x.get("activity") for x in log if x["event"] == "activity_started"] == ["export", "done"]
    out = project.root / "exports" / "profiles-2026-12-01.csv"
    con = warehouse.connect(project)
    try:
        (profiles,) = con.execute("select count(*) from profiles").fetchone() or (0,)
    finally:
        con.close()
    assert out.exists() and len(out.read_text().splitlines()) == profiles + 1
    (record,) = run_history(project, "snapshot")
    assert record.status == "succeeded"
    assert [(a.activity, a.status) for a in record.activities] == [
        ("enough_buyers", "finished"),
        ("settle", "finished"),
        ("export", "finished"),
        ("done", "finished"),
    ]


def test_a_file_trigger_imports_each_new_file_once(auto_project: Project) -> None:
    project = auto_project
    drop = project.root / "drop"
    drop.mkdir()
    write_workflow(
        project,
        "crm_drop",
        """
        workflow: crm_drop
        trigger: {file: {folder: drop, pattern: "*.csv"}}
        activities:
        - {id: contacts, type: import, kind: profiles, file: "{trigger_file}"}
        """,
    )
    (drop / "a.csv").write_text("external_key,email,first_name\nX1,x1@example.com,Ann\n", encoding="utf-8")
    code, log = run(project, T0, workflow="crm_drop")
    assert code == 0
    assert "1" in str(next(x for x in log if x["event"] == "activity_finished")["summary"])
    code, log = run(project, T0, workflow="crm_drop", dry_run=True)
    assert code == 0 and not [x for x in log if x["event"] == "due"]
    (drop / "b.csv").write_text("external_key,email,first_name\nX2,x2@example.com,Bo\n", encoding="utf-8")
    pause_workflow(project, "crm_drop", by="ops", reason="CRM migration")
    code, log = run(project, T0, workflow="crm_drop", dry_run=True)
    paused_line = next(x for x in log if x["event"] == "workflow_paused")
    assert paused_line["by"] == "ops" and not [x for x in log if x["event"] == "due"]
    resume_workflow(project, "crm_drop")
    code, log = run(project, T0, workflow="crm_drop", dry_run=True)
    (due,) = [x for x in log if x["event"] == "due"]
    assert str(due["run"]).startswith("file-b-")
    assert run(project, T0, workflow="crm_drop")[0] == 0
    assert sorted(r.key.split("-")[1] for r in run_history(project, "crm_drop")) == ["a", "b"]


def test_an_invalid_workflow_stops_everything_before_it_runs(auto_project: Project) -> None:
    write_workflow(auto_project, "broken", "workflow: broken\ntrigger: api\nactivities:\n- {id: x, type: teleport}\n")
    with pytest.raises(WorkflowSpecError, match=r"broken\.yml: activity 'x': type must be one of"):
        run(auto_project, T0)
