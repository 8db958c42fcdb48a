"""Provider events landed for real, built with dbt on a copy of the demo warehouse: each event counts once however
often it is posted, a hard bounce of a Herald-sent message quarantines its address and an unsubscribe opts its
profile out by the next build, delivery rates use the send list's denominators, and the incremental build gives
exactly what a full refresh gives.

One prepared email run (200 recipients of the demo, 20 % control) and a ledger saying its messages were
accepted; every build is limited to the engagement models (ENGAGEMENT), and the landings are grouped so the module
makes three builds in all: the first, one after the re-posts, the bounce and the unsubscribe, and a full refresh.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from herald import landing
from herald.build import build, read_build
from herald.campaigns.prepare import prepare
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from senders.ledger import Entry, message_id
from tests.conftest import make_scratch_project

pytestmark = pytest.mark.slow

# Well in the past, so that messages without events are "unconfirmed" in every build of the test.
SENT_AT = dt.datetime(2026, 11, 20, 8, 0, 0)

# The engagement models, and the profile-side models that turn provider events into quarantine and consent. The
# staging views are rebuilt too: they name the landing, ledger and inbox folders of the warehouse that built them.
ENGAGEMENT = (
    "path:dbt_project/models/staging/esp",
    "path:dbt_project/models/staging/senders",
    "path:dbt_project/models/intermediate/messaging",
    "path:dbt_project/models/marts/messaging",
    "path:dbt_project/models/marts/engagement",
    "exclusion_waterfall",
    "int_consent_events_mapped_to_profiles",
    "profile_consents",
    "address_quarantines",
)
# Tables compared between the incremental and the full-refresh build (every column, every row).
COMPARED = (
    "int_esp_events_deduplicated",
    "int_channel_events_deduplicated",
    "int_provider_events_aggregated_to_messages",
    "message_outcomes",
    "message_events",
    "link_clicks",
    "delivery_metrics",
    "campaign_metrics",
    "channel_metrics",
    "engagement_daily",
    "recipient_domains",
    "bounce_reasons",
    "message_reconciliation",
    "delivery_control_lift",
    "delivery_ab_results",
    "address_quarantines",
    "profile_consents",
)
METRICS = (
    "select sent_count, delivered_count, unique_open_count, open_count, machine_open_count, unique_click_count, "
    "click_count, bounced_count, hard_bounce_count, unsubscribe_count, complaint_count from delivery_metrics "
    "where run_id = ?"
)

SPECS: dict[str, str] = {
    "audiences/engagement_sample.yml": "name: engagement_sample\nlimit: {count: 200}\n",
    "typologies/engagement_plain.yml": "name: engagement_plain\nfiltering:\n  consent: not_required\n",
    "plans/engagement_tests.yml": """
program: engagement_tests
campaigns:
- id: engagement_campaign
  deliveries:
  - id: engagement_email
    channel: email
    topic: newsletter
    audience: engagement_sample
    template: engagement_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: engagement_plain
    control_percent: 20
""",
    "templates/engagement_email/template.yml": (
        'channel: email\nsubject: News\ntext: "News. Unsubscribe: {{ unsubscribe_url }}"\n'
    ),
}


@dataclass(frozen=True, slots=True)
class Recipient:
    message_id: str
    profile_id: str
    address: str


@dataclass(frozen=True, slots=True)
class Sent:
    project: Project
    run_id: str
    recipients: tuple[Recipient, ...]
    batch: tuple[dict[str, Any], ...]  # the webhook batch landed before the first build
    first_metrics: tuple[Any, ...]  # METRICS after the first build


def first_batch(run_id: str, recipients: tuple[Recipient, ...]) -> list[dict[str, Any]]:
    """Deliveries for 40 messages, 20 human and 10 machine opens, 8 clicks."""
    first = recipients[:40]
    batch = [event(r, run_id, "delivered", 5) for r in first]
    batch += [event(r, run_id, "open", 600 + i, sg_machine_open=0) for i, r in enumerate(first[:20])]
    batch += [event(r, run_id, "open", 60, sg_machine_open=1) for r in first[20:30]]
    batch += [
        event(r, run_id, "click", 700, url="https://shop.example/sale?utm_source=email", url_offset_index=0)
        for r in first[:8]
    ]
    return batch


def query(project: Project, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Rows from the build file (limited builds are not published)."""
    con = read_build(project)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def build_engagement(project: Project, *, full_refresh: bool = False) -> None:
    build(project, select=ENGAGEMENT, full_refresh=full_refresh, quiet=True)


def event(recipient: Recipient, run_id: str, kind: str, seconds: int, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "sg_event_id": f"{kind}-{recipient.message_id}-{seconds}",
        "sg_message_id": f"sg-{recipient.message_id}",
        "message_id": recipient.message_id,
        "run_id": run_id,
        "event": kind,
        "email": recipient.address,
        "occurred_at": SENT_AT + dt.timedelta(seconds=seconds),
    }
    row.update(extra)
    return row


def land(project: Project, rows: list[dict[str, Any]]) -> None:
    columns = {c.name: [r.get(c.name) for r in rows] for c in ESP_EVENTS.columns}
    table = pa.Table.from_pydict({k: v for k, v in columns.items() if any(x is not None for x in v)})
    landing.land_batch(project, ESP_EVENTS, table, source_file="webhook.json")


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Iterator[Sent]:
    project = make_scratch_project(tmp_path_factory.mktemp("engagement"), demo_project)
    for name, text in SPECS.items():
        path = project.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    run = prepare(project, "engagement_email")
    rows = query(
        project,
        "select recipient_id, profile_id, address from send_lists where run_id = ? and is_sendable "
        "and recipient_group <> 'seed' order by recipient_id",
        [run.run_id],
    )
    recipients = tuple(Recipient(message_id(run.run_id, r, "email"), p, a) for r, p, a in rows)
    journal = project.ledger_dir / run.run_id / "shard-000.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    with open(journal, "wb") as fh:
        for r in recipients:
            common = {"run_id": run.run_id, "recipient_id": r.profile_id, "profile_id": r.profile_id}
            claimed, accepted = ((SENT_AT + dt.timedelta(seconds=s)).replace(tzinfo=dt.UTC).isoformat() for s in (0, 1))
            fh.write(Entry(r.message_id, "claimed", 1, channel="email", delivery_id="engagement_email", at=claimed,
                           **common).line())  # fmt: skip
            fh.write(Entry(r.message_id, "accepted", 1, channel="email", delivery_id="engagement_email", at=accepted,
                           provider_id=f"sg-{r.message_id}", **common).line())  # fmt: skip
    batch = first_batch(run.run_id, recipients)
    land(project, batch)
    build_engagement(project)
    first_metrics = query(project, METRICS, [run.run_id])[0]
    # What arrives next, all folded in by one more build (each build costs a minute on a busy machine): the same
    # batch posted twice more as is and once under new event ids, a hard bounce and an unsubscribe.
    land(project, batch)
    land(project, batch)
    land(project, [{**row, "sg_event_id": "again-" + row["sg_event_id"]} for row in batch])
    victim, who = recipients[-1], recipients[-2]
    land(project, [event(victim, run.run_id, "bounce", 30, bounce_type="bounce", reason="550 5.1.1 no such user",
                         bounce_classification="Invalid Address")])  # fmt: skip
    # No address on the unsubscribe: only the send ledger can say whose message it was.
    land(project, [{**event(who, run.run_id, "unsubscribe", 900), "email": None}])
    build_engagement(project)
    yield Sent(project, run.run_id, recipients, tuple(batch), first_metrics)
    shutil.rmtree(project.warehouse_dir, ignore_errors=True)


def test_herald_sends_appear_as_messages_with_their_send_list(sent: Sent) -> None:
    rows = query(
        sent.project,
        "select count(*), count(distinct recipient_group), min(source), min(campaign_id), min(program_id), "
        "bool_and(is_sent) from message_outcomes where run_id = ?",
        [sent.run_id],
    )
    assert rows == [(len(sent.recipients), 1, "herald", "engagement_campaign", "engagement_tests", True)]
    assert len(sent.recipients) > 100


def test_the_same_batch_posted_three_times_changes_no_metric(sent: Sent) -> None:
    once = sent.first_metrics
    assert once[:8] == (len(sent.recipients), 40, 20, 30, 10, 8, 8, 0)
    (now,) = query(sent.project, METRICS, [sent.run_id])
    # Every engagement figure is unchanged; only the one bounce and the one unsubscribe landed since count.
    assert now[:7] == once[:7]
    bounced, hard, unsubscribed = once[7:10]
    assert now[7:10] == (bounced + 1, hard + 1, unsubscribed + 1)
    assert query(sent.project, "select count(*) from int_esp_events_deduplicated where run_id = ?", [sent.run_id]) == [
        (len(sent.batch) + 2,)
    ]


def test_a_hard_bounce_of_a_herald_message_quarantines_the_address_by_the_next_build(sent: Sent) -> None:
    victim = sent.recipients[-1]
    status = (
        "select quarantine_status, quarantine_reason from address_quarantines where channel = 'email' and address = ?"
    )
    assert query(sent.project, status, [victim.address.lower()]) == [("quarantined", "hard_bounce")]
    outcome = query(
        sent.project,
        "select is_hard_bounced, bounce_type, bounce_classification from message_outcomes where message_id = ?",
        [victim.message_id],
    )
    assert outcome == [(True, "hard", "Invalid Address")]
    others = query(
        sent.project,
        "select count(*) from address_quarantines where channel = 'email' and quarantine_status = 'quarantined' "
        "and address in (select lower(address) from send_lists where run_id = ?)",
        [sent.run_id],
    )
    assert others == [(1,)]  # nobody else of the run: the bounce quarantined exactly its own address


def test_an_unsubscribe_from_a_herald_message_opts_the_profile_out(sent: Sent) -> None:
    who = sent.recipients[-2]
    consent = query(
        sent.project,
        "select consent_status, source, evidence_id from profile_consents "
        "where profile_id = ? and channel = 'email' and topic = 'all'",
        [who.profile_id],
    )
    assert consent == [("opted_out", "esp_unsubscribe", who.message_id)]


def test_rates_use_the_send_list_denominators(sent: Sent) -> None:
    (targeted, control, sent_count, delivered, opens, sent_rate, delivery_rate, open_rate), = query(
        sent.project,
        "select targeted_count, control_count, sent_count, delivered_count, unique_open_count, sent_rate, "
        "delivery_rate, open_rate from delivery_metrics where run_id = ?",
        [sent.run_id],
    )  # fmt: skip
    listed = query(
        sent.project,
        "select count(*) filter (where recipient_group in ('target', 'variant')), "
        "count(*) filter (where recipient_group = 'control') from send_lists where run_id = ?",
        [sent.run_id],
    )
    assert (targeted, control) == listed[0]
    assert control > 0
    assert sent_count == len(sent.recipients) == targeted
    assert sent_rate == pytest.approx(sent_count / targeted)
    assert delivery_rate == pytest.approx(delivered / sent_count)
    assert open_rate == pytest.approx(opens / delivered)
    waterfall = query(
        sent.project,
        "select step, remaining_count from exclusion_waterfall where run_id = ? order by step_order desc limit 1",
        [sent.run_id],
    )
    assert waterfall == [("control", targeted)]


def test_incremental_builds_equal_a_full_refresh(sent: Sent, tmp_path: Path) -> None:
    # By now the tables were built incrementally: a first build, then five more landings and a second build.
    def snapshot(path: Path) -> None:
        con = read_build(sent.project)
        try:
            path.mkdir()
            for table in COMPARED:
                # The only column that depends on the build's time rather than on the data.
                columns = "* exclude (evaluated_at)" if table == "delivery_ab_results" else "*"
                con.execute(f"copy (select {columns} from {table}) to '{path / table}.parquet' (format parquet)")
        finally:
            con.close()

    snapshot(tmp_path / "incremental")
    build_engagement(sent.project, full_refresh=True)
    snapshot(tmp_path / "full")
    con = duckdb.connect()
    for table in COMPARED:
        a, b = (f"read_parquet('{tmp_path / kind / table}.parquet')" for kind in ("incremental", "full"))
        differ = con.execute(
            f"select (select count(*) from (select * from {a} except all select * from {b})) "
            f"+ (select count(*) from (select * from {b} except all select * from {a})), (select count(*) from {a})"
        ).fetchone()
        assert differ is not None and differ[0] == 0, table
        assert differ[1] > 0 or table in {"delivery_ab_results", "int_channel_events_deduplicated"}, table
