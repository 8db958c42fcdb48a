"""The Automation page, run headlessly with AppTest over a scratch project (no warehouse build needed).

Workflows, runs and activities are checked against the library (``load_workflows``, ``run_history``, ``paused``);
"Run now" starts a real `herald run --workflow NAME --start` process on a workflow that only waits zero minutes.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.data import automation as data
from herald.project import Project
from orchestration import background
from orchestration.journal import RunJournal, paused, run_history
from orchestration.spec import workflows_dir
from orchestration.workflows import load_workflows
from tests.conftest import make_scratch_project

APP = Path(__file__).resolve().parents[2] / "app"
ROUTER = str(APP / "streamlit_app.py")
PAGE = str(APP / "views" / "automation.py")
QUICK = "quick_check"
QUICK_SPEC = f"""\
workflow: {QUICK}
description: Waits zero minutes, then ends (no build, no send).
trigger: api
activities:
- {{id: pause_a_moment, type: wait, minutes: 0}}
- {{id: done, type: end}}
"""
RUN_WAIT_SECONDS = 45

pytestmark = [pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A writable copy of the project root (its workflows plus QUICK) over an empty warehouse folder."""
    scratch = make_scratch_project(tmp_path)
    (workflows_dir(scratch) / f"{QUICK}.yml").write_text(QUICK_SPEC, encoding="utf-8")
    monkeypatch.setenv("HERALD_HOME", str(scratch.root))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(scratch.warehouse_dir))
    return scratch


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def _page(workflow: str | None = None) -> AppTest:
    at = AppTest.from_file(ROUTER, default_timeout=60)
    _run(at)  # pages with a url_path are only known to AppTest after a first run
    at.switch_page(PAGE)
    _run(at)
    if workflow is not None:
        at.selectbox(key="auto_pick").set_value(workflow)
        _run(at)
    return at


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _frame(at: AppTest, csv_key: str):  # type: ignore[no-untyped-def]
    """The dataframe shown just before the download button ``csv_key`` (table_with_csv pairs them)."""
    keys = [b.key for b in at.get("download_button")]
    frames = list(at.dataframe)
    assert csv_key in keys, keys
    return frames[keys.index(csv_key)].value


def test_lists_the_spec_workflows(project: Project) -> None:
    at = _page()
    flows = load_workflows(project)
    table = _frame(at, "auto_flows_csv")
    assert list(table["Workflow"]) == [f.name for f in flows]
    assert QUICK in list(table["Workflow"])
    assert at.selectbox(key="auto_pick").options == [f.name for f in flows]
    quick = table.set_index("Workflow").loc[QUICK]
    assert (quick["Trigger"], quick["State"], quick["Last status"]) == ("api", "active", "never run")


def test_pause_and_resume_change_the_library_state(project: Project) -> None:
    at = _page(QUICK)
    at.text_input(key="auto_pause_by").input("anna")
    at.text_input(key="auto_pause_reason").input("CRM export [late] *again*")
    at.button(key="auto_pause").click()
    _run(at)
    pause = paused(project, QUICK)
    assert pause is not None and (pause.by, pause.reason) == ("anna", "CRM export [late] *again*")
    assert _frame(at, "auto_flows_csv").set_index("Workflow").loc[QUICK, "State"] == "paused"
    assert any("CRM export [late] *again*" in _unescape(c.value) for c in at.caption)
    at.button(key="auto_resume").click()
    _run(at)
    assert paused(project, QUICK) is None
    assert _frame(at, "auto_flows_csv").set_index("Workflow").loc[QUICK, "State"] == "active"


def test_pause_needs_who(project: Project) -> None:
    at = _page(QUICK)
    at.button(key="auto_pause").click()
    _run(at)
    assert paused(project, QUICK) is None
    assert any("who" in _unescape(e.value) for e in at.error)


def test_run_now_runs_in_a_process_and_its_history_shows(project: Project) -> None:
    at = _page(QUICK)
    assert any(c.value == "No run yet." for c in at.caption)
    at.button(key="auto_run").click()
    _run(at)
    job = background.read_job(project, QUICK)
    assert job is not None and job.pid is not None
    assert any("started at" in _unescape(i.value) for i in at.info) or any(
        "exit 0" in _unescape(s.value) for s in at.success
    )
    deadline = time.monotonic() + RUN_WAIT_SECONDS
    while (job := background.read_job(project, QUICK)) is not None and job.state == "running":
        assert time.monotonic() < deadline, "the background run did not finish"
        time.sleep(0.3)
    assert job is not None and job.exit_code == 0, data.job_output(project, QUICK)
    _run(at)
    assert any("exit 0" in _unescape(s.value) for s in at.success)

    runs = run_history(project, QUICK)
    assert [r.status for r in runs] == ["succeeded"]
    shown = _frame(at, "auto_runs_csv")
    assert list(shown["Run"]) == [r.key for r in runs]
    assert list(shown["Status"]) == [r.status for r in runs]
    acts = _frame(at, "auto_acts_csv")
    assert list(acts["Activity"]) == [a.activity for a in runs[0].activities] == ["pause_a_moment", "done"]
    assert list(acts["Status"]) == [a.status for a in runs[0].activities]
    assert list(acts["Started (UTC)"]) == [a.started_at for a in runs[0].activities]
    log = _frame(at, "auto_log_csv")
    events = list(log["Event"])
    assert events[0] == "run_started" and events[-1] == "run_finished"  # newest last
    assert "activity_finished" in events
    at.multiselect(key="auto_levels").set_value(["error"])
    _run(at)
    assert _frame(at, "auto_log_csv").empty
    row = _frame(at, "auto_flows_csv").set_index("Workflow").loc[QUICK]
    assert (row["Last run"], row["Last status"], row["Runs"]) == (runs[0].key, "succeeded", 1)


def test_a_blocked_run_shows_the_reason_and_the_override(project: Project) -> None:
    flow = next(f for f in load_workflows(project) if any(a.type == "deliver" for a in f.activities))
    send = next(a for a in flow.activities if a.type == "deliver")
    journal = RunJournal(project, flow.name, "20261203T013000Z")
    journal.append("run_started", scheduled="2026-12-03T01:30:00+00:00")
    journal.append("started", send.id)
    reason = f"delivery {send.options['delivery']} does not send: source_age: crm_contacts is 50 h old"
    journal.append("blocked", send.id, reason=reason, seconds=0.2, breakers=[{"breaker": "source_age"}])
    at = _page(flow.name)
    assert any(reason in _unescape(e.value) for e in at.error)
    assert any(f"herald run --override {send.options['delivery']}" in c.value for c in at.code)
    assert list(_frame(at, "auto_runs_csv")["Status"]) == ["blocked"]
    acts = _frame(at, "auto_acts_csv")
    assert list(acts["Activity"]) == [a.activity for a in run_history(project, flow.name)[0].activities]


def test_without_workflows_a_note_says_how_to_add_one(project: Project) -> None:
    # No workflow file, and no plan schedule (a scheduled delivery runs as a workflow of its own).
    for path in [*workflows_dir(project).glob("*.yml"), *(project.specs_dir / "plans").glob("*.yml")]:
        path.unlink()
    at = _page()
    assert any("No workflow yet" in i.value for i in at.info)
