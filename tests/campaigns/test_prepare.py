"""`herald prepare` on the demo data: every exclusion is true, nothing goes where a rule forbids, the counts add up,
re-preparing is identical, a data change shows in the diff, and controls and approvals gate the send."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

from herald import landing, warehouse
from herald.campaigns.approvals import approve, check_send
from herald.campaigns.prepare import PreparedRun, prepare
from herald.campaigns.report import RULE_ORDER, run_report
from herald.emails import is_reserved_domain
from herald.errors import CampaignError, ControlRuleFailed
from herald.importing import import_file
from herald.project import Project
from herald.raw_schema import BATCH_COLUMNS, CRM_CONTACTS
from tests.conftest import make_scratch_project

pytestmark = pytest.mark.slow

SPECS: dict[str, str] = {
    "audiences/everyone.yml": "name: everyone\ndescription: Every profile.\n",
    "audiences/irish.yml": "name: irish\nwhere:\n  country_code: IE\n",
    "audiences/big_spenders.yml": "name: big_spenders\nwhere:\n  lifetime_value: {gt: 1000}\n",
    "typologies/strict.yml": """
name: strict
filtering:
  consent: required
  exclude_audiences: [irish]
  custom: [{reason: big_spender_hold, audience: big_spenders}]
fatigue:
- {name: email_monthly, channel: email, max: 1, period_days: 30}
control:
  allowed_from_domains: [shop.example]
""",
    "typologies/lenient.yml": "name: lenient\nfiltering:\n  consent: required\n",
    "plans/test_plan.yml": """
program: test_plan
campaigns:
- id: test_campaign
  deliveries:
  - id: newsletter_email
    channel: email
    topic: newsletter
    audience: everyone
    template: test_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: strict
    control_percent: 10
    ab_test: {variants: {A: 50, B: 50}, test_percent: 20}
    seeds: [qa@shop.example]
    approval: {required: true, approvers: [anna]}
  - id: followup_email
    channel: email
    topic: newsletter
    audience: everyone
    template: test_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: strict
  - id: no_unsubscribe
    channel: email
    topic: newsletter
    audience: everyone
    template: bare_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: strict
  - id: needs_city
    channel: email
    topic: newsletter
    audience: everyone
    template: city_email
    sender: {from_name: Shop, from_email: news@shop.example}
    typology: lenient
""",
    "templates/test_email/template.yml": (
        "channel: email\nsubject: \"Hi {{ first_name | default('there') }}\"\n"
        'text: "News. Unsubscribe: {{ unsubscribe_url }}"\n'
    ),
    "templates/bare_email/template.yml": "channel: email\nsubject: News\ntext: No way out.\n",
    "templates/city_email/template.yml": (
        'channel: email\nsubject: News for {{ rfm_segment }}\ntext: "Unsubscribe: {{ unsubscribe_url }}"\n'
    ),
}


def write_specs(project: Project) -> None:
    for name, text in SPECS.items():
        path = project.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def rows(project: Project, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = warehouse.connect(project)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def ids(project: Project, sql: str, params: list[Any] | None = None) -> set[str]:
    return {str(r[0]) for r in rows(project, sql, params)}


@pytest.fixture(scope="module")
def campaign_project(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Iterator[Project]:
    project = make_scratch_project(tmp_path_factory.mktemp("campaigns"), demo_project)
    write_specs(project)
    yield project
    shutil.rmtree(project.warehouse_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def first_run(campaign_project: Project) -> PreparedRun:
    return prepare(campaign_project, "newsletter_email")


def test_counts_add_up_to_the_audience(campaign_project: Project, first_run: PreparedRun) -> None:
    profiles = rows(campaign_project, "select count(*) from profiles")[0][0]
    assert first_run.audience_size == profiles
    assert first_run.send_count + first_run.control_count + first_run.excluded_count == first_run.audience_size
    assert first_run.seed_count == 1
    listed = rows(
        campaign_project,
        "select count(*) filter (where recipient_group in ('target', 'variant')), "
        "count(*) filter (where recipient_group = 'control') from send_lists where run_id = ?",
        [first_run.run_id],
    )[0]
    excluded = rows(campaign_project, "select count(*) from send_list_exclusions where run_id = ?", [first_run.run_id])
    assert listed == (first_run.send_count, first_run.control_count)
    assert excluded[0][0] == first_run.excluded_count
    assert first_run.send_count > 0 and first_run.control_count > 0
    assert not first_run.blocked


def test_demo_recipients_are_at_reserved_domains(first_run: PreparedRun) -> None:
    synthetic = next(c for c in first_run.controls if c.rule == "synthetic_recipients")
    assert synthetic.passed and synthetic.message == "synthetic recipients use reserved domains only"


def test_demo_contacts_at_real_domains_block_the_run(
    tmp_path_factory: pytest.TempPathFactory, demo_project: Project
) -> None:
    """Demo contacts re-landed (as a demo batch) with the real domains their reserved ones stand for: a real
    provider key would email whoever owns those addresses, so the run is blocked."""
    project = make_scratch_project(tmp_path_factory.mktemp("synthetic"), demo_project)
    write_specs(project)
    demo_batch = sorted((project.landing_dir / CRM_CONTACTS.name).glob("*-demo.parquet"))[0]  # the first export
    contacts = pq.read_table(demo_batch).drop_columns([c.name for c in BATCH_COLUMNS]).slice(0, 600)
    emails = [e and e.replace(".example.com", ".com") for e in contacts.column("email").to_pylist()]
    assert any(e and not is_reserved_domain(e.rsplit("@", 1)[-1]) for e in emails)
    contacts = contacts.set_column(contacts.column_names.index("email"), "email", [emails])
    batch_id = landing.new_batch_id().rsplit("-", 1)[0] + "-demo"
    landing.land_batch(project, CRM_CONTACTS, contacts, source_file="crm_contacts.csv", batch_id=batch_id)

    run = prepare(project, "followup_email")
    real = [
        address
        for (address,) in rows(
            project,
            "select address from send_lists where run_id = ? and is_sendable and profile_id is not null",
            [run.run_id],
        )
        if not is_reserved_domain(address.rsplit("@", 1)[-1])
    ]
    assert real and run.blocked
    failure = next(c for c in run.controls if c.rule == "synthetic_recipients")
    assert not failure.passed
    assert failure.message.startswith(f"{len(real)} recipient(s) from demo or generated data")
    assert f"e.g. {min(real)}:" in failure.message
    assert not check_send(project, run.run_id).allowed
    with pytest.raises(CampaignError, match="control rule synthetic_recipients failed"):
        approve(project, run.run_id, "anyone")
    shutil.rmtree(project.warehouse_dir, ignore_errors=True)


def test_nobody_is_sent_what_a_rule_forbids(campaign_project: Project, first_run: PreparedRun) -> None:
    run = first_run.run_id
    sendable = ids(
        campaign_project,
        "select profile_id from send_lists where run_id = ? and is_sendable and profile_id is not null",
        [run],
    )
    opted_in = ids(
        campaign_project,
        "select profile_id from profile_consents where channel = 'email' and topic = 'newsletter' and is_opted_in",
    )
    quarantined = ids(
        campaign_project,
        "select p.profile_id from profiles p join address_quarantines q on q.address = p.email "
        "and q.channel = 'email' and q.quarantine_status <> 'active'",
    )
    irish = ids(campaign_project, "select profile_id from profiles where country_code = 'IE'")
    big = ids(campaign_project, "select profile_id from profiles where lifetime_value > 1000")
    recently_emailed = ids(
        campaign_project,
        "select profile_id from messages, (select as_of from herald_meta.build_info) b "
        "where channel = 'email' and sent_at > b.as_of - interval 30 day and sent_at <= b.as_of",
    )
    assert sendable
    assert sendable <= opted_in
    assert not sendable & quarantined
    assert not sendable & irish
    assert not sendable & big
    assert not sendable & recently_emailed


def test_every_exclusion_is_true(campaign_project: Project, first_run: PreparedRun) -> None:
    run = first_run.run_id
    by_rule: dict[str, set[str]] = {}
    for profile_id, rule in rows(
        campaign_project, "select profile_id, exclusion_rule from send_list_exclusions where run_id = ?", [run]
    ):
        by_rule.setdefault(rule, set()).add(profile_id)
    # Each rule this typology has, and the demo data can trigger, excluded someone.
    assert {"no_address", "no_consent", "quarantined", "excluded_audience", "custom_rule", "fatigue"} <= set(by_rule)
    no_email = ids(campaign_project, "select profile_id from profiles where email is null")
    # Opted in to the topic, and not opted out of every topic ('all') since.
    opted_in = ids(
        campaign_project,
        "select t.profile_id from profile_consents t where t.channel = 'email' and t.topic = 'newsletter'"
        " and t.is_opted_in and not exists (select 1 from profile_consents a where a.profile_id = t.profile_id"
        " and a.channel = 'email' and a.topic = 'all' and a.consent_status = 'opted_out'"
        " and a.status_since >= t.status_since)",
    )
    assert by_rule["no_address"] <= no_email
    assert not by_rule["no_consent"] & opted_in
    assert by_rule["excluded_audience"] <= ids(
        campaign_project, "select profile_id from profiles where country_code = 'IE'"
    )
    assert by_rule["custom_rule"] <= ids(
        campaign_project, "select profile_id from profiles where lifetime_value > 1000"
    )
    emailed = ids(
        campaign_project,
        "select profile_id from messages, (select as_of from herald_meta.build_info) b "
        "where channel = 'email' and sent_at > b.as_of - interval 30 day",
    )
    assert by_rule["fatigue"] <= emailed
    reasons = dict(
        rows(
            campaign_project,
            "select exclusion_rule, min(exclusion_reason) from send_list_exclusions where run_id = ? group by 1",
            [run],
        )
    )
    assert reasons["fatigue"] == "email_monthly"
    assert reasons["custom_rule"] == "big_spender_hold"
    assert reasons["excluded_audience"] == "irish"


def test_groups_follow_the_plan(campaign_project: Project, first_run: PreparedRun) -> None:
    report = run_report(campaign_project, first_run.run_id)
    groups = dict(report.groups)
    sent = first_run.send_count + first_run.control_count
    assert abs(groups["control"] / sent - 0.10) < 0.05
    variants = groups["variant:A"] + groups["variant:B"]
    assert abs(variants / sent - 0.18) < 0.06  # 20 % of the 90 % that is not control
    assert groups["seed"] == 1
    # The waterfall lists the rules in the order they apply (docs/campaigns.md), not by size.
    assert [w[0] for w in report.waterfall] == sorted((w[0] for w in report.waterfall), key=RULE_ORDER.index)


def test_preparing_again_is_identical_and_fatigue_counts_prepared_runs(
    campaign_project: Project, first_run: PreparedRun
) -> None:
    before = warehouse.current_path(campaign_project)
    again = prepare(campaign_project, "newsletter_email")
    assert again.run_id != first_run.run_id
    assert again.digest == first_run.digest
    assert run_report(campaign_project, again.run_id).changes_total == 0
    # Prepared on top of the published build: only the delivery-runs file was written and copied; the main file
    # is the same file under the new build's name, and dbt did not re-parse the project for the new run.
    after = warehouse.current_path(campaign_project)
    assert after != before and after.stat().st_ino == before.stat().st_ino
    assert warehouse.deliveries_path(after).stat().st_ino != warehouse.deliveries_path(before).stat().st_ino
    dbt_log = (campaign_project.warehouse_dir / "dbt" / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "no changes found, skipping parsing" in dbt_log[dbt_log.rindex("Running with dbt=") :]
    # The run's tests read the run's rows: earlier runs were tested when they were appended.
    compiled = campaign_project.warehouse_dir / "dbt/target/compiled/herald/dbt_project/models/marts/deliveries"
    unique_key_test = (compiled / "_deliveries__models.yml/unique_send_lists_send_list_id.sql").read_text("utf-8")
    assert f"where run_id = '{again.run_id}'" in unique_key_test

    # Another delivery on the same channel: whoever the first one will email is now at the monthly maximum.
    followup = prepare(campaign_project, "followup_email")
    first_sendable = ids(
        campaign_project,
        "select profile_id from send_lists where run_id = ? and is_sendable and profile_id is not null",
        [again.run_id],
    )
    followup_sendable = ids(
        campaign_project,
        "select profile_id from send_lists where run_id = ? and is_sendable and profile_id is not null",
        [followup.run_id],
    )
    fatigued = ids(
        campaign_project,
        "select profile_id from send_list_exclusions where run_id = ? and exclusion_rule = 'fatigue'",
        [followup.run_id],
    )
    assert first_sendable and not first_sendable & followup_sendable
    assert first_sendable <= fatigued


@pytest.fixture(scope="module")
def changed_run(
    campaign_project: Project, first_run: PreparedRun, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, PreparedRun]:
    """A target of the first run opts out by import; preparing again builds the new batch into the warehouse
    (the published build no longer matches the landed batches, so the preparation runs the full build) and
    gives the latest run of the delivery: (that profile, the run)."""
    target = sorted(
        ids(
            campaign_project,
            "select profile_id from send_lists where run_id = ? and recipient_group = 'target'",
            [first_run.run_id],
        )
    )[0]
    external_key = rows(campaign_project, "select external_key from profiles where profile_id = ?", [target])[0][0]
    csv = tmp_path_factory.mktemp("opt_out") / "opt_out.csv"
    csv.write_text(
        "consent_event_id,external_key,channel,topic,status,occurred_at\n"
        f"test-opt-out-1,{external_key},email,newsletter,opt_out,2026-11-28 12:00:00\n",
        encoding="utf-8",
    )
    report = import_file(campaign_project, "consents", csv)
    assert report.rows_rejected == 0
    return target, prepare(campaign_project, "newsletter_email")


def test_a_data_change_shows_in_the_diff(
    campaign_project: Project, first_run: PreparedRun, changed_run: tuple[str, PreparedRun]
) -> None:
    target, changed = changed_run
    diff = run_report(campaign_project, changed.run_id)
    moved = {c.profile_id: (c.before, c.after) for c in diff.changes}
    assert moved[target] == ("target", "excluded: no_consent (no opt-in for email topic newsletter)")
    assert changed.digest != first_run.digest


def test_a_template_without_unsubscribe_link_prepares_nothing(campaign_project: Project) -> None:
    before = rows(campaign_project, "select count(*) from delivery_runs")[0][0]
    with pytest.raises(ControlRuleFailed, match=r"unsubscribe_link: template bare_email: every body part must link"):
        prepare(campaign_project, "no_unsubscribe")
    assert rows(campaign_project, "select count(*) from delivery_runs")[0][0] == before


def test_a_field_some_recipients_lack_blocks_the_run(campaign_project: Project) -> None:
    run = prepare(campaign_project, "needs_city")
    assert run.blocked
    failure = next(c for c in run.controls if c.rule == "personalization")
    assert "'rfm_segment' is undefined" in failure.message and "recipient(s) like" in failure.message
    assert not check_send(campaign_project, run.run_id).allowed
    with pytest.raises(CampaignError, match="cannot be approved: control rule personalization failed"):
        approve(campaign_project, run.run_id, "anyone")


def test_approval_gates_the_send_and_content_changes_revoke_it(
    campaign_project: Project, changed_run: tuple[str, PreparedRun]
) -> None:
    # The latest run of the delivery (check_send refuses any other), prepared once for the diff above.
    _, run = changed_run
    check = check_send(campaign_project, run.run_id)
    assert not check.allowed and any("requires approval by anna" in r for r in check.reasons)
    with pytest.raises(CampaignError, match="'bob' may not approve"):
        approve(campaign_project, run.run_id, "bob")
    approve(campaign_project, run.run_id, "anna", "looks good")
    assert check_send(campaign_project, run.run_id).allowed

    template = campaign_project.specs_dir / "templates/test_email/template.yml"
    template.write_text(template.read_text(encoding="utf-8").replace("News.", "News!"), encoding="utf-8")
    check = check_send(campaign_project, run.run_id)
    assert not check.allowed and any("content changed" in r for r in check.reasons)
