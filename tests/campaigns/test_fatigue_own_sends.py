"""Fatigue counts what Herald itself sent: prepare, send through the real sender to the strict fake SendGrid,
prepare again, and the second run excludes exactly the profiles the cap now holds back, with the rule in the
waterfall, without a build in between. Messages of other runs (transactional, journeys) count per channel;
failed and released messages do not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald import clock, warehouse
from herald.build import published_build, streams_fingerprint
from herald.campaigns.prepare import prepare
from herald.campaigns.report import run_report
from herald.project import Project
from senders import ledger
from senders.job import SendJob
from senders.options import SendOptions
from tests.conftest import make_scratch_project
from tests.fakes.sendgrid import FakeSendGrid

pytestmark = pytest.mark.slow

API_KEY = "SG.fatigue-test-key"

SPECS: dict[str, str] = {
    "audiences/everyone.yml": "name: everyone\ndescription: Every profile.\n",
    "typologies/weekly_cap.yml": """
name: weekly_cap
filtering:
  consent: required
fatigue:
- {name: one_email_a_week, channel: email, max: 1, period_days: 7}
control:
  allowed_from_domains: [shop.example]
""",
    "plans/fatigue_plan.yml": """
program: fatigue_plan
campaigns:
- id: weekly
  deliveries:
  - id: weekly_email
    channel: email
    topic: newsletter
    audience: everyone
    template: weekly_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: weekly_cap
    control_percent: 10
""",
    "templates/weekly_email/template.yml": (
        "channel: email\nsubject: \"Hi {{ first_name | default('there') }}\"\n"
        'text: "This week. Unsubscribe: {{ unsubscribe_url }}"\n'
    ),
}


@pytest.fixture
def fatigue_project(tmp_path: Path, demo_project: Project) -> Project:
    project = make_scratch_project(tmp_path, demo_project)
    for name, text in SPECS.items():
        path = project.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return project


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=API_KEY) as fake:
        yield fake


def _groups(project: Project, run_id: str) -> dict[str, set[str]]:
    """Profile ids of a run by group, and by exclusion rule for the excluded."""
    con = warehouse.connect(project)
    try:
        found = con.execute(
            "select coalesce(exclusion_rule, recipient_group), profile_id from delivery_run_recipients"
            " where run_id = ? and profile_id is not null",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for group, profile_id in found:
        out.setdefault(str(group), set()).add(str(profile_id))
    return out


def _other_message(project: Project, run_id: str, profile_id: str, channel: str, state: str) -> None:
    """A message of a run that is not a delivery (a transactional or journey message), as its sender writes it."""
    mid = ledger.message_id(run_id, profile_id, channel)
    common: dict[str, Any] = {"run_id": run_id, "recipient_id": profile_id, "profile_id": profile_id}
    claimed_at = clock.now() - dt.timedelta(minutes=1)
    with ledger.Shard(project, run_id, 0) as shard:
        assert shard.try_lock(wait=True)
        shard.append(
            [
                ledger.Entry(mid, "claimed", 1, channel=channel, at=claimed_at.isoformat(), **common),
                ledger.Entry(mid, state, 1, channel=channel, **common),  # type: ignore[arg-type]
            ]
        )


def test_a_second_preparation_excludes_exactly_whom_the_sends_capped(
    fatigue_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    project = fatigue_project
    first = prepare(project, "weekly_email")
    before = _groups(project, first.run_id)
    # The demo's history already caps some profiles; the rest of the audience has a message left this week.
    assert before.get("fatigue") and before.get("target") and len(before.get("control", ())) >= 4

    env = {
        "SENDGRID_API_KEY": API_KEY,
        "HERALD_SENDGRID_HOST": fake_sendgrid.url,
        "HERALD_SENDGRID_TIMEOUT": "5",
        "HERALD_LINK_SECRET": "link-secret-for-tests",
        "HERALD_PUBLIC_URL": "https://links.shop.example",
    }
    summary = SendJob(project, first.run_id, SendOptions(concurrency=2), env=env).run()
    assert summary.complete and set(summary.states) == {"accepted"}, summary
    sent = {e.profile_id for e in ledger.read_run(project, first.run_id).values() if e.state == "accepted"}
    assert sent == before["target"]

    # Messages of runs that are not deliveries, to control members (whom the first run did not email): an
    # accepted email counts, a failed or released one does not, and an SMS does not count toward an email rule.
    accepted_email, failed_email, released_email, accepted_sms = sorted(before["control"])[:4]
    _other_message(project, "tx-order-confirmation", accepted_email, "email", "accepted")
    _other_message(project, "tx-order-confirmation", failed_email, "email", "failed")
    _other_message(project, "journey-welcome-step1", released_email, "email", "released")
    _other_message(project, "journey-welcome-step1", accepted_sms, "sms", "accepted")

    second = prepare(project, "weekly_email")
    after = _groups(project, second.run_id)
    # Exactly the capped: whom the history capped before, whom Herald has emailed since, nobody else.
    expected = before["fatigue"] | sent | {accepted_email}
    assert after["fatigue"] == expected, (sorted(expected - after["fatigue"]), sorted(after["fatigue"] - expected))
    assert {failed_email, released_email, accepted_sms} <= after["control"]
    assert not after.get("target", set()) & sent

    # The waterfall names the rule, and the run report's diff says why each sent profile left.
    report = run_report(project, second.run_id)
    fatigue_steps = [(reason, n) for rule, reason, n in report.waterfall if rule == "fatigue"]
    assert fatigue_steps == [("one_email_a_week", len(after["fatigue"]))]
    # Prepared on top of the published build, whose message marts have not seen the send: a build must still run.
    published = published_build(project)
    assert published is not None and published.streams_fingerprint != streams_fingerprint(project)
    moved = {c.profile_id: c.after for c in report.changes}
    some = sorted(sent)[0]
    assert moved[some] == "excluded: fatigue (one_email_a_week)"
