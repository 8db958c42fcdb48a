"""The campaign pages (Campaigns, Delivery, Preparation, Approval), run headlessly with AppTest.

Statuses, report figures and previews are checked against the warehouse and the library (``run_report``), on
the session's demo warehouse for reading and on one scratch copy per module for what writes: the preparation
(started from the page, run in its own process) and what follows it — approvals and a template edit.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from app.campaign_pages import QUERY
from herald.campaigns.approvals import check_send
from herald.campaigns.jobs import PrepareJob, job_path, process_alive, read_job, start_prepare, write_job
from herald.campaigns.plans import load_program
from herald.campaigns.preparations import preparation
from herald.campaigns.report import list_runs, run_report
from herald.jobs import now
from herald.project import Project
from senders import ledger
from tests.conftest import make_scratch_project

APP = Path(__file__).resolve().parents[2] / "app"
ROUTER = str(APP / "streamlit_app.py")
CAMPAIGNS = str(APP / "views" / "campaigns.py")
DELIVERY = str(APP / "views" / "campaign_delivery.py")
PREPARATION = str(APP / "views" / "campaign_preparation.py")
APPROVAL = str(APP / "views" / "campaign_approval.py")
EMAIL = "winter_sale_email"
# A preparation is a dbt build: 20–90 s on two busy cores, more when the project's dbt files changed.
PREPARE_WAIT_SECONDS = 180

pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
]


# ---------------------------------------------------------------------------------------------- helpers


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def _page(path: str, delivery: str | None = None) -> AppTest:
    at = AppTest.from_file(ROUTER, default_timeout=90)
    # Pages with a url_path other than their file name are only known to AppTest after a first run.
    _run(at)
    at.switch_page(path)
    if delivery is not None:
        at.query_params[QUERY] = delivery
    return _run(at)


def _unescape(text: str) -> str:
    """Markdown text as the user reads it (``plain()`` backslash-escapes punctuation)."""
    return re.sub(r"\\(.)", r"\1", text)


def _texts(elements) -> list[str]:  # type: ignore[no-untyped-def]
    return [_unescape(str(e.value)) for e in elements]


def _badges(at: AppTest) -> list[str]:
    """The status badges shown, in page order."""
    return [m.group(1) for v in _texts(at.markdown) if (m := re.fullmatch(r":\w+-badge\[(\w+)\]", v))]


def _chart(at: AppTest, title: str) -> list[pd.DataFrame]:
    """The data of the chart titled ``title``: one frame per dataset (a layered chart may have several)."""
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if spec.get("title", {}).get("text") == title:
            return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
    raise AssertionError(f"no chart titled {title!r}")


def _wait(project: Project, delivery_id: str) -> PrepareJob:
    deadline = time.monotonic() + PREPARE_WAIT_SECONDS
    job = read_job(project, delivery_id)
    while job is not None and job.is_running and time.monotonic() < deadline:
        time.sleep(1)
        job = read_job(project, delivery_id)
    log = job_path(project, delivery_id).with_suffix(".log")
    assert job is not None and job.state == "succeeded", log.read_text(encoding="utf-8") if log.exists() else job
    return job


# ---------------------------------------------------------------------------------------------- reading


def test_the_pages_render_and_every_delivery_is_a_draft_before_any_run(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page(CAMPAIGNS)
    assert [t.value for t in at.title] == ["Campaigns"]
    assert _badges(at) == ["draft", "draft"]
    (table,) = [d.value for d in at.dataframe]
    assert dict(zip(table["delivery"], table["status"], strict=True)) == {EMAIL: "draft", "winter_sale_sms": "draft"}
    rows = {row for frame in _chart(at, "Calendar") if "row" in frame for row in frame["row"]}
    assert rows == {"Winter sale", f"↳ {EMAIL}", "↳ winter_sale_sms"}
    for path, title in [(DELIVERY, "Delivery"), (PREPARATION, "Preparation"), (APPROVAL, "Approval")]:
        at.switch_page(path)
        _run(at)
        assert [t.value for t in at.title] == [title]
        assert _badges(at) == ["draft"]
    assert any("never been prepared" in t for t in _texts(at.info))


def test_the_live_preview_renders_a_profile_and_shows_template_errors(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page(DELIVERY, EMAIL)
    profile = "C0000008"
    first_name, language = app_env.rows(
        "select first_name, language_code from profiles where profile_id = ?", [profile]
    )[0]
    at.selectbox(key=f"cmp.preview.{EMAIL}.profile").set_value(profile)
    _run(at)
    hello = (
        f"{first_name}, les soldes d'hiver commencent" if language == "fr" else f"{first_name}, the winter sale is on"
    )
    assert f"**Subject:** {hello}" in _texts(at.markdown)
    (iframe,) = at.get("iframe")
    assert "data:text/html" in str(iframe.proto)

    key = f"cmp.tpl.{EMAIL}/template.yml"
    source = at.text_area(key=key).value
    assert source is not None and "subject:" in source
    at.text_area(key=key).input(source.replace("the winter sale is on", "{{ loyalty_tier }} sale"))
    _run(at)
    errors = _texts(at.error)
    assert any(
        f"template {EMAIL}/subject, line 1: 'loyalty_tier' is undefined for recipient {profile}" in e for e in errors
    ), errors
    at.text_area(key=key).input(source.replace("{{ first_name", "{{ first_name +"))
    _run(at)
    assert any(f"template {EMAIL}/subject" in e and "line 1" in e for e in _texts(at.error)), _texts(at.error)
    # Saving a template that does not compile is refused; nothing is written.
    at.button(key="cmp_save_template").click()
    _run(at)
    assert any(e.startswith("Not saved: template") for e in _texts(at.error)), _texts(at.error)
    saved = (APP.parent / "specs" / "templates" / EMAIL / "template.yml").read_text(encoding="utf-8")
    assert saved == source


def test_unsaved_edits_survive_a_file_switch_and_a_visit_to_another_page(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page(DELIVERY, EMAIL)
    key = f"cmp.tpl.{EMAIL}/template.yml"
    at.text_area(key=key).input(str(at.text_area(key=key).value).replace("the winter sale is on", "draft subject"))
    at.number_input(key=f"cmp.set.{EMAIL}.control").set_value(20.0)
    _run(at)
    at.pills(key=f"cmp.tpl.{EMAIL}.file").set_value("body.txt")
    _run(at)
    at.switch_page(CAMPAIGNS)
    _run(at)
    at.switch_page(DELIVERY)
    _run(at)
    assert at.number_input(key=f"cmp.set.{EMAIL}.control").value == 20.0
    assert any(t.startswith("**Subject:**") and t.endswith(", draft subject") for t in _texts(at.markdown))
    assert ":material/edit: Unsaved changes." in _texts(at.caption)
    assert any(t.startswith("Unsaved: template.yml.") for t in _texts(at.caption))


def test_an_invalid_plan_edit_is_refused_with_the_parse_error(scratch_specs: Project) -> None:
    path = scratch_specs.specs_dir / "plans" / "winter_2026.yml"
    before = path.read_text(encoding="utf-8")
    at = _page(DELIVERY, EMAIL)
    at.segmented_control(key=f"cmp.set.{EMAIL}.kind").set_value("recurring")
    _run(at)
    at.text_input(key=f"cmp.set.{EMAIL}.cron").input("every monday")
    _run(at)
    at.button(key="cmp_save_settings").click()
    _run(at)
    assert "Not saved: the plan would not be valid." in _texts(at.error)
    codes = [c.value for c in at.code]
    assert any(f"({EMAIL}): schedule: `cron` needs five fields" in c and "'every monday'" in c for c in codes), codes
    assert path.read_text(encoding="utf-8") == before

    # A valid edit is written, and changes nothing else in the plan.
    at.text_input(key=f"cmp.set.{EMAIL}.cron").input("0 9 * * MON")
    at.number_input(key=f"cmp.set.{EMAIL}.control").set_value(15.0)
    _run(at)
    at.button(key="cmp_save_settings").click()
    _run(at)
    assert any(f"Saved the settings of {EMAIL}" in s for s in _texts(at.success)), _texts(at.error)
    old, new = yaml.safe_load(before), yaml.safe_load(path.read_text(encoding="utf-8"))
    edited = new["campaigns"][0]["deliveries"][0]
    assert edited["schedule"] == {"cron": "0 9 * * MON", "time_zone": "Europe/Paris"}
    assert edited["control_percent"] == 15
    old_delivery = old["campaigns"][0]["deliveries"][0]
    assert {k: v for k, v in edited.items() if k not in ("schedule", "control_percent")} == {
        k: v for k, v in old_delivery.items() if k not in ("schedule", "control_percent")
    }
    assert new["campaigns"][0]["deliveries"][1] == old["campaigns"][0]["deliveries"][1]
    assert load_program(path).campaigns[0].deliveries[0].control_percent == 15


# ---------------------------------------------------------------------------------------------- preparing


def send_to_everyone(project: Project) -> None:
    """Point the email delivery at every profile, so that its preparation excludes people by several rules (the
    demo's test audience only lacks consent)."""
    (project.specs_dir / "audiences" / "everyone.yml").write_text("name: everyone\n", encoding="utf-8")
    plan = project.specs_dir / "plans" / "winter_2026.yml"
    text = plan.read_text(encoding="utf-8")
    assert "    audience: winter_sale_test\n" in text
    plan.write_text(text.replace("    audience: winter_sale_test\n", "    audience: everyone\n"), encoding="utf-8")


@pytest.fixture(scope="module")
def campaign_project(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Project:
    """One writable copy of the project and the demo warehouse for the module's preparation tests."""
    project = make_scratch_project(tmp_path_factory.mktemp("campaign_pages"), demo_project)
    send_to_everyone(project)
    return project


@pytest.fixture
def campaign_env(campaign_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("HERALD_HOME", str(campaign_project.root))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(campaign_project.warehouse_dir))
    return campaign_project


@pytest.fixture(scope="module")
def prepared(campaign_project: Project) -> Iterator[tuple[AppTest, PrepareJob]]:
    """The Preparation page after its Prepare button ran a preparation to the end (once per module)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HERALD_HOME", str(campaign_project.root))
        mp.setenv("HERALD_WAREHOUSE_DIR", str(campaign_project.warehouse_dir))
        at = _page(PREPARATION, EMAIL)
        assert any("No run yet" in c for c in _texts(at.caption))
        at.button(key="cmp_prepare").click()
        _run(at)
        assert job_path(campaign_project, EMAIL).is_file()
        assert any("Preparing" in i for i in _texts(at.info)), _texts(at.info)
        assert at.button(key="cmp_prepare").disabled
        job = _wait(campaign_project, EMAIL)
        _run(at)
        yield at, job


def test_prepare_runs_in_the_background_and_the_report_appears(
    campaign_env: Project, prepared: tuple[AppTest, PrepareJob]
) -> None:
    at, job = prepared
    assert job.run_id is not None and not job.blocked and job.pid is not None
    assert [r.run_id for r in list_runs(campaign_env, EMAIL)] == [job.run_id]
    assert any(f"Prepared run `{job.run_id}`" in s for s in _texts(at.success))
    report = run_report(campaign_env, job.run_id)
    metrics = {m.label: int(m.value.replace(",", "")) for m in at.metric}
    assert metrics["Audience"] == report.run.audience_size
    assert metrics["To send"] == report.run.send_count
    assert metrics["Control group"] == report.run.control_count
    assert metrics["Excluded"] == report.run.excluded_count
    assert _badges(at) == ["prepared"]
    assert "Every control rule passed." in _texts(at.success)


def test_the_waterfall_has_the_reports_numbers(campaign_env: Project, prepared: tuple[AppTest, PrepareJob]) -> None:
    at, job = prepared
    assert job.run_id is not None
    report = run_report(campaign_env, job.run_id)
    (steps,) = _chart(at, "Exclusion waterfall")
    per_rule: dict[str, int] = {}
    for rule, _, n in report.waterfall:
        per_rule[rule] = per_rule.get(rule, 0) + n
    expected = [("audience", "", report.run.audience_size)]
    expected += [("exclusion", rule, n) for rule, n in per_rule.items()]
    expected += [("control", "control", report.run.control_count), ("send", "", report.run.send_count)]
    assert len(per_rule) >= 3, per_rule  # several rules excluded someone: the steps' order is tested
    assert list(zip(steps["kind"], steps["rule"], steps["members"], strict=True)) == expected
    # Each step starts where the previous left off, and the steps end at the send count.
    left = report.run.audience_size
    for start, end, kind in zip(steps["start"], steps["end"], steps["kind"], strict=True):
        if kind in ("exclusion", "control"):
            assert end == left
            left = start
    assert left == report.run.send_count
    table = next(t.value for t in at.table if "Members" in t.value.columns)
    assert table.loc["To send", "Members"] == f"{report.run.send_count:,}"
    # Ten sample messages rendered with the recipients' data.
    samples = next(t.value for t in at.table if "Subject" in t.value.columns)
    assert len(samples) == 10 and samples["Subject"].str.len().gt(0).all()


def test_a_preparation_that_fails_at_once_reports_failed(campaign_env: Project) -> None:
    start_prepare(campaign_env, "nowhere_email")
    deadline = time.monotonic() + 60
    while (job := read_job(campaign_env, "nowhere_email")) is not None and job.is_running:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job is not None and job.state == "failed" and "no delivery 'nowhere_email'" in job.message

    # A process that ended without reporting is not running, even before anything reaps it.
    lost = subprocess.Popen(["true"])
    time.sleep(0.5)
    assert not process_alive(lost.pid)
    write_job(campaign_env, PrepareJob("winter_sale_sms", "running", now(), pid=lost.pid))
    lost.wait()
    status = preparation(campaign_env, "winter_sale_sms")
    assert status.state == "failed" and "stopped without reporting" in status.message
    at = _page(PREPARATION, "winter_sale_sms")
    assert "The last preparation failed:" in _texts(at.error)
    assert not at.button(key="cmp_prepare").disabled


def test_approving_as_a_non_approver_shows_the_refusal(
    campaign_env: Project, prepared: tuple[AppTest, PrepareJob]
) -> None:
    _, job = prepared
    at = _page(APPROVAL, EMAIL)
    assert any(f"{EMAIL} requires approval by anna" in t for t in _texts(at.markdown))
    at.text_input(key="cmp_approver").input("bob")
    at.button(key="cmp_approve").click()
    _run(at)
    assert any("Not approved: 'bob' may not approve delivery winter_sale_email" in e for e in _texts(at.error))
    assert _badges(at) == ["prepared"]
    assert job.run_id is not None and not check_send(campaign_env, job.run_id).allowed


def test_statuses_follow_approval_and_a_template_edit(
    campaign_env: Project, prepared: tuple[AppTest, PrepareJob]
) -> None:
    _, job = prepared
    at = _page(APPROVAL, EMAIL)
    at.text_input(key="cmp_approver").input("anna")
    at.text_input(key="cmp_approval_note").input("checked the samples")
    at.button(key="cmp_approve").click()
    _run(at)
    assert any(f"Run `{job.run_id}` approved by anna." in s for s in _texts(at.success)), _texts(at.error)
    assert _badges(at) == ["approved"]
    assert any(f"Run `{job.run_id}` may be sent, approved by anna." in s for s in _texts(at.success))
    campaigns = _page(CAMPAIGNS)
    (table,) = [d.value for d in campaigns.dataframe]
    assert dict(zip(table["delivery"], table["status"], strict=True))[EMAIL] == "approved"

    # Editing the template (saved from the Delivery page) makes the approved run outdated.
    at = _page(DELIVERY, EMAIL)
    key = f"cmp.tpl.{EMAIL}/body.txt"
    at.pills(key=f"cmp.tpl.{EMAIL}.file").set_value("body.txt")
    _run(at)
    at.text_area(key=key).input(str(at.text_area(key=key).value).replace("up to 40 %", "up to 50 %"))
    _run(at)
    at.button(key="cmp_save_template").click()
    _run(at)
    assert f"Saved template {EMAIL}." in _texts(at.success), _texts(at.error)
    assert "up to 50 %" in (campaign_env.specs_dir / "templates" / EMAIL / "body.txt").read_text(encoding="utf-8")
    assert _badges(at) == ["outdated"]
    assert _badges(_page(CAMPAIGNS))[0] == "outdated"
    at = _page(APPROVAL, EMAIL)
    assert any("the content changed since the run was prepared" in t for t in _texts(at.markdown))


def test_the_preparation_page_shows_send_states_and_unknown_messages(
    campaign_env: Project, prepared: tuple[AppTest, PrepareJob]
) -> None:
    _, job = prepared
    assert job.run_id is not None
    ledger.shard_count(campaign_env, job.run_id, 1)
    with ledger.Shard(campaign_env, job.run_id, 0) as shard:
        assert shard.try_lock()
        for i, state in enumerate(("accepted", "accepted", "unknown")):
            mid = f"m{i:031x}"
            reason = "the sender stopped during the provider call" if state == "unknown" else ""
            shard.append([ledger.Entry(mid, state, 1, job.run_id, recipient_id=f"r{i}", reason=reason)])
    at = _page(PREPARATION, EMAIL)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accepted"] == "2" and metrics["Unknown"] == "1"
    assert any("1 message(s) unknown" in w and f"herald resolve {job.run_id}" in w for w in _texts(at.warning))
    (unknown,) = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert unknown["reason"].tolist() == ["the sender stopped during the provider call"]
