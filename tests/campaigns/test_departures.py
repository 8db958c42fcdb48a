"""Profiles that leave a delivery's audience between two runs never reach the waterfall's rules: the run report
says why. Here a one-click unsubscribe takes a profile out of an audience that filters on reachability, and the
next run's report attributes the departure to that opt-out, its date and its evidence (the message)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.campaign_pages import QUERY
from app.data import campaigns as app_data
from herald import warehouse
from herald.campaigns.prepare import prepare
from herald.campaigns.report import format_report, run_report
from herald.project import Project
from senders import ledger
from senders.tracking.consents import ConsentEvent, event_id, land_events
from tests.conftest import make_scratch_project

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[2] / "app"

SPECS: dict[str, str] = {
    "audiences/email_reachable.yml": "name: email_reachable\nwhere:\n  reachable: email\n",
    "typologies/consent_only.yml": "name: consent_only\nfiltering:\n  consent: required\n",
    "plans/departures_plan.yml": """
program: departures_plan
campaigns:
- id: departures_campaign
  deliveries:
  - id: reachable_promotions
    channel: email
    topic: promotions
    audience: email_reachable
    template: departures_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: consent_only
""",
    "templates/departures_email/template.yml": (
        'channel: email\nsubject: Offers\ntext: "Offers. Unsubscribe: {{ unsubscribe_url }}"\n'
    ),
}


def rows(project: Project, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = warehouse.connect(project)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Iterator[Project]:
    scratch = make_scratch_project(tmp_path_factory.mktemp("departures"), demo_project)
    for name, text in SPECS.items():
        path = scratch.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    yield scratch
    shutil.rmtree(scratch.warehouse_dir, ignore_errors=True)


def test_a_one_click_unsubscribe_is_named_in_the_next_report(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    first = prepare(project, "reachable_promotions")
    # A recipient whose only email opt-in is this topic: unsubscribing from it makes the profile unreachable.
    profile_id = rows(
        project,
        "select s.profile_id from send_lists s where s.run_id = ? and s.is_sendable and s.profile_id is not null"
        " and not exists (select 1 from profile_consents c where c.profile_id = s.profile_id"
        " and c.channel = 'email' and c.is_opted_in and c.topic <> 'promotions')"
        " order by s.profile_id limit 1",
        [first.run_id],
    )[0][0]
    message_id = ledger.message_id(first.run_id, profile_id, "email")
    clicked_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    land_events(
        project,
        [
            ConsentEvent(
                consent_event_id=event_id("one_click_unsubscribe", message_id, clicked_at.isoformat()),
                external_key=profile_id,
                channel="email",
                topic="promotions",
                status="opt_out",
                source="one_click_unsubscribe",
                evidence_id=message_id,
                ip_address="127.0.0.1",
                occurred_at=clicked_at,
            )
        ],
        source_file="herald-serve/one_click_unsubscribe",
    )

    second = prepare(project, "reachable_promotions")
    report = run_report(project, second.run_id)
    assert report.previous_run_id == first.run_id
    # Out of the audience, so in no exclusion step of the waterfall: the diff and the summary say why.
    assert not rows(
        project,
        "select 1 from delivery_run_recipients where run_id = ? and profile_id = ?",
        [second.run_id, profile_id],
    )
    change = next(c for c in report.changes if c.profile_id == profile_id)
    why = (
        f"opted out of email topic promotions on {clicked_at.date().isoformat()}"
        f" (one_click_unsubscribe, evidence: message {message_id})"
    )
    assert (change.after, change.why) == ("not in the audience", why)
    by_reason = {(reason, detail): n for reason, detail, n in report.departures}
    assert by_reason[("opted_out", "one_click_unsubscribe")] == 1

    text = format_report(report)
    assert f"{profile_id}: {change.before} → not in the audience: {why}" in text
    assert "Left the audience since the previous run (why):" in text
    assert "one_click_unsubscribe" in text.split("Left the audience since the previous run (why):")[1]
    departures = app_data.departures_frame(report)
    assert ("Opted out", "one_click_unsubscribe", 1) in set(departures.itertuples(index=False, name=None))
    assert app_data.changes_frame(report).set_index("profile_id").loc[profile_id, "why"] == why

    # The Preparation page shows the latest run's report: the departures per reason, and why in "Who moved".
    monkeypatch.setenv("HERALD_HOME", str(project.root))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(project.warehouse_dir))
    at = AppTest.from_file(str(APP / "streamlit_app.py"), default_timeout=90)
    at.run()
    at.switch_page(str(APP / "views" / "campaign_preparation.py"))
    at.query_params[QUERY] = "reachable_promotions"
    at.run()
    assert not at.exception, at.exception
    frames = [d.value for d in at.dataframe]
    shown = next((f for f in frames if list(f.columns) == ["reason", "detail", "profiles"]), None)
    assert shown is not None, [list(f.columns) for f in frames]
    assert ("Opted out", "one_click_unsubscribe", 1) in set(shown.itertuples(index=False, name=None))
    moved = next(f for f in frames if "why" in f.columns).set_index("profile_id")
    assert moved.loc[profile_id, "why"] == why
