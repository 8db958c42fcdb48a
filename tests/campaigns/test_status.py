"""Where a delivery stands, without Streamlit: the status every campaign page shows follows the delivery's latest
run in the published warehouse, the control rules it failed, its approvals and the content as it is now."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from herald.build import META_TABLES
from herald.campaigns.approvals import ApprovalRecord
from herald.campaigns.status import LatestRun, delivery_status, latest_runs

PREPARED = dt.datetime(2026, 12, 1, 9, 0)


def _run(failed: tuple[tuple[str, str], ...] = (), approved_for: tuple[str, ...] = ()) -> LatestRun:
    approvals = tuple(ApprovalRecord("r1", "anna", h, PREPARED) for h in approved_for)
    return LatestRun("r1", "h1", "v1", PREPARED, 10, 5, 1, 4, 1, failed, approvals)


def test_a_delivery_never_prepared_is_a_draft() -> None:
    assert delivery_status(None, "h1") == "draft"
    assert delivery_status(None, None) == "draft"


def test_a_prepared_run_is_approved_only_for_the_content_it_was_prepared_with() -> None:
    assert delivery_status(_run(), "h1") == "prepared"
    assert delivery_status(_run(approved_for=("h1",)), "h1") == "approved"
    # An approval of other content (a template edited, approved, edited back) does not count.
    assert delivery_status(_run(approved_for=("h0",)), "h1") == "prepared"


def test_a_failed_control_rule_blocks_the_run_even_once_approved() -> None:
    assert delivery_status(_run(failed=(("links", "bad URL"),)), "h1") == "blocked"
    assert delivery_status(_run(failed=(("links", "bad URL"),), approved_for=("h1",)), "h1") == "blocked"


def test_content_changed_since_the_run_makes_it_outdated_whatever_else_holds() -> None:
    assert delivery_status(_run(approved_for=("h1",)), "h2") == "outdated"
    assert delivery_status(_run(failed=(("links", "bad URL"),)), "h2") == "outdated"
    assert delivery_status(_run(), None) == "outdated"  # the template does not load any more


@pytest.mark.parametrize("send_state", ["sending", "sent", "cancelled"])
def test_what_the_sender_records_wins(send_state: str) -> None:
    assert delivery_status(_run(approved_for=("h1",)), "h1", send_state=send_state) == send_state  # type: ignore[arg-type]
    assert delivery_status(None, "h1", send_state=send_state) == send_state  # type: ignore[arg-type]


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema herald_meta")
    for table, columns in META_TABLES.items():
        con.execute(f"create table herald_meta.{table} ({columns})")
    con.execute(
        "create table delivery_runs (run_id varchar, delivery_id varchar, plan_version varchar, content_hash varchar,"
        " prepared_at timestamp, audience_size integer, send_count integer, control_count integer,"
        " excluded_count integer)"
    )
    return con


def test_the_latest_run_of_each_delivery_with_its_failed_rules_and_approvals() -> None:
    con = _warehouse()
    con.execute(
        "insert into delivery_runs values"
        " ('r1', 'email', 'v1', 'h1', '2026-12-01 09:00', 100, 80, 10, 10),"
        " ('r2', 'email', null, 'h2', '2026-12-02 09:00', 120, 90, 12, 18),"
        " ('r3', 'sms', 'v1', 'h3', '2026-12-02 10:00', 50, 50, 0, 0)"
    )
    con.execute(
        "insert into herald_meta.delivery_run_controls values"
        " ('r1', 'links', false, 'old failure', null),"
        " ('r2', 'links', true, '', null),"
        " ('r2', 'sms_segments', false, 'too long', null),"
        " ('r2', 'fields', false, 'no fallback', null)"
    )
    con.execute("insert into herald_meta.delivery_run_approvals values ('r3', 'anna', 'h3', '2026-12-02 11:00', 'ok')")

    runs = latest_runs(con)
    assert set(runs) == {"email", "sms"}
    email = runs["email"]
    assert (email.run_id, email.runs, email.plan_version) == ("r2", 2, "")
    assert (email.audience_size, email.send_count, email.control_count, email.excluded_count) == (120, 90, 12, 18)
    assert email.prepared_at == dt.datetime(2026, 12, 2, 9, 0)
    assert email.failed_controls == (("sms_segments", "too long"), ("fields", "no fallback"))  # in recorded order
    assert email.approvals == ()
    assert delivery_status(email, "h2") == "blocked"
    sms = runs["sms"]
    assert [a.approver for a in sms.approvals] == ["anna"]
    assert delivery_status(sms, "h3") == "approved"


def test_a_warehouse_without_runs_has_no_latest_run() -> None:
    assert latest_runs(duckdb.connect()) == {}
