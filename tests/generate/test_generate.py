"""The generator writes the landing layout, reproducibly, with realistic and deliberately messy records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from herald.generate import GenerateReport, generate
from herald.generate.reference import CAMPAIGNS
from herald.landing import arrow_schema
from herald.raw_schema import ALL_TABLES
from tests.generate.conftest import BATCH_TIME, SMALL_EVENTS, SMALL_PROFILES, small_run


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_every_table_is_written_with_the_landing_schema(small: tuple[Path, GenerateReport]) -> None:
    out, report = small
    for t in ALL_TABLES:
        files = sorted((out / t.name).glob("*.parquet"))
        assert files, t.name
        for f in files:
            assert pq.read_schema(f).equals(arrow_schema(t)), f
    assert set(report.rows) == {t.name for t in ALL_TABLES}


def test_batches_are_recorded_and_their_columns_filled(small: tuple[Path, GenerateReport]) -> None:
    out, report = small
    con = duckdb.connect()
    records = con.execute(f"SELECT * FROM read_parquet('{out}/import_batches/*.parquet')").fetchall()
    assert len(records) == len(report.batch_ids) == report.rows["import_batches"]
    assert report.batch_ids == tuple(sorted(report.batch_ids))
    assert all(b.startswith(BATCH_TIME.strftime("%Y%m%dT%H%M%S")) for b in report.batch_ids)
    for batch_id, table_name, _source, _sha, rows_read, inserted, updated, rejected, loaded_at in records:
        data = out / table_name / f"{batch_id}.parquet"
        assert (out / "import_batches" / f"{batch_id}-{table_name}.parquet").exists()
        n, distinct_batches, lines, nulls = con.execute(
            f"SELECT count(*), count(DISTINCT _batch_id), max(_line_number) - min(_line_number) + 1, "
            f"count(*) FILTER (WHERE _source_file IS NULL OR _loaded_at IS NULL OR _batch_id <> '{batch_id}') "
            f"FROM read_parquet('{data}')"
        ).fetchone()  # type: ignore[misc]
        assert (n, distinct_batches, lines, nulls) == (rows_read, 1, rows_read, 0)
        assert inserted + updated + rejected == rows_read
        assert loaded_at >= BATCH_TIME


def test_same_seed_gives_identical_rows(small: tuple[Path, GenerateReport], tmp_path: Path) -> None:
    out, _ = small
    again = small_run(tmp_path / "again").out_dir
    other = small_run(tmp_path / "other", seed=8).out_dir
    con = duckdb.connect()

    def rows(d: Path, name: str) -> str:
        return f"SELECT * FROM read_parquet('{d}/{name}/*.parquet')"

    for t in ALL_TABLES:
        assert _one(con, f"SELECT count(*) FROM (({rows(out, t.name)}) EXCEPT ALL ({rows(again, t.name)}))") == 0
        assert _one(con, f"SELECT count(*) FROM ({rows(again, t.name)})") == _one(
            con, f"SELECT count(*) FROM ({rows(out, t.name)})"
        )
    changed = _one(
        con,
        f"SELECT count(*) FROM ((SELECT email FROM ({rows(out, 'crm_contacts')})) "
        f"EXCEPT (SELECT email FROM ({rows(other, 'crm_contacts')})))",
    )
    assert isinstance(changed, int) and changed > SMALL_PROFILES // 2


def test_row_counts_scale_with_profiles(small: tuple[Path, GenerateReport], tmp_path: Path) -> None:
    _, report = small
    half = small_run(tmp_path / "half", profiles=SMALL_PROFILES // 2)
    assert report.rows["app_events"] == SMALL_PROFILES * SMALL_EVENTS
    assert half.rows["app_events"] == SMALL_PROFILES // 2 * SMALL_EVENTS
    for table in (
        "crm_contacts",
        "consent_events",
        "shop_orders",
        "shop_order_lines",
        "shop_payments",
        "message_history",
    ):
        ratio = report.rows[table] / half.rows[table]
        assert 1.5 < ratio < 2.6, (table, ratio)


def test_references_point_at_existing_records(raw: duckdb.DuckDBPyConnection) -> None:
    known = "ANTI JOIN crm_contacts USING (external_key)"
    checks = {
        "order lines without order": "SELECT count(*) FROM shop_order_lines ANTI JOIN shop_orders USING (order_id)",
        "orders of unknown contacts": f"SELECT count(*) FROM shop_orders {known}",
        "events of unknown contacts": f"SELECT count(*) FROM app_events {known}",
        "consent of unknown contacts": f"SELECT count(*) FROM consent_events {known}",
        "tokens of unknown contacts": f"SELECT count(*) FROM push_tokens {known}",
        "messages to unknown contacts": f"SELECT count(*) FROM message_history {known}",
        "provider events of unknown messages": "SELECT count(*) FROM esp_events "
        "ANTI JOIN message_history USING (message_id)",
        "payments without order": "SELECT count(*) FROM shop_payments ANTI JOIN shop_orders USING (order_id)",
        "payments in another currency than their order": "SELECT count(*) FROM shop_payments p "
        "JOIN shop_orders o USING (order_id) WHERE p.currency <> o.currency",
        "payments before their order": "SELECT count(*) FROM shop_payments p "
        "JOIN shop_orders o USING (order_id) WHERE p.processed_at < o.ordered_at",
        "paid orders whose payments do not net to their total": """
            SELECT count(*) FROM shop_orders o JOIN (
                SELECT order_id,
                    sum(CASE status WHEN 'captured' THEN amount WHEN 'refunded' THEN -amount ELSE 0 END) AS net
                FROM shop_payments GROUP BY 1
            ) p USING (order_id)
            WHERE o.status = 'completed' AND NOT (p.net > 0 AND p.net <= o.total_amount + 0.005)""",
        "orders whose total is not their lines": """
            SELECT count(*) FROM shop_orders o JOIN (
                SELECT order_id, round(sum(quantity * unit_price), 2) AS lines_total FROM shop_order_lines GROUP BY 1
            ) l USING (order_id) WHERE abs(o.total_amount - l.lines_total) > 0.005""",
    }
    for label, sql in checks.items():
        assert _one(raw, sql) == 0, label
    assert _one(raw, "SELECT count(*) FROM shop_orders") > 0
    unique_keys = {
        "crm_contacts": "external_key, _batch_id",
        "consent_events": "consent_event_id",
        "shop_orders": "order_id",
        "shop_order_lines": "order_line_id",
        "app_events": "event_id",
        "push_tokens": "device_id",
        "message_history": "message_id",
        "shop_payments": "payment_id",
    }
    for table, key in unique_keys.items():
        assert _one(raw, f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}") == 0, table


def test_a_year_of_activity_before_the_end_date(raw: duckdb.DuckDBPyConnection) -> None:
    end = dt.datetime(2026, 11, 28)
    start = end - dt.timedelta(days=365)
    for table, column in (
        ("app_events", "occurred_at"),
        ("shop_orders", "ordered_at"),
        ("message_history", "sent_at"),
        ("esp_events", "occurred_at"),
    ):
        low, high = raw.execute(f"SELECT min({column}), max({column}) FROM {table}").fetchone()  # type: ignore[misc]
        assert start <= low and high < end, table
    assert (
        _one(
            raw,
            "SELECT count(*) FROM app_events e JOIN crm_contacts c USING (external_key) "
            "WHERE e.occurred_at < c.created_at",
        )
        == 0
    )


def test_messy_records_are_there(raw: duckdb.DuckDBPyConnection) -> None:
    emails = {r[0] for r in raw.execute("SELECT email FROM crm_contacts").fetchall()}
    assert {"bob@", "no-at-sign.example.com"} <= emails
    # The same person under two keys: same address once trimmed and lower-cased, written differently.
    assert (
        _one(
            raw,
            """
        SELECT count(*) FROM (
            SELECT lower(trim(email)) FROM crm_contacts WHERE _batch_id = (SELECT min(_batch_id) FROM crm_contacts)
            GROUP BY 1 HAVING count(DISTINCT external_key) > 1 AND count(DISTINCT email) > 1)""",
        )
        >= 2
    )
    assert _one(raw, "SELECT count(*) FROM crm_contacts WHERE first_name = '' OR city = ''") >= 1
    assert (
        _one(raw, "SELECT count(*) FROM crm_contacts WHERE length(regexp_replace(phone, '[^0-9]', '', 'g')) < 6") >= 1
    )
    formats = raw.execute("SELECT DISTINCT regexp_replace(phone, '[0-9]', '9', 'g') FROM crm_contacts").fetchall()
    assert len(formats) > 20
    # A later batch updates some contacts: same key, another city.
    moved = raw.execute("""
        SELECT a.external_key FROM crm_contacts a JOIN crm_contacts b USING (external_key)
        WHERE a._batch_id < b._batch_id AND a.city <> b.city AND b.updated_at > a.updated_at""").fetchall()
    assert len(moved) >= 2


def test_contacts_look_real(raw: duckdb.DuckDBPyConnection) -> None:
    countries = _one(raw, "SELECT count(DISTINCT country_code) FROM crm_contacts")
    assert countries == 12
    assert _one(raw, "SELECT count(*) FROM crm_contacts WHERE email LIKE '%''%' OR last_name LIKE '%''%'") == 0
    assert _one(raw, "SELECT count(*) FROM crm_contacts WHERE NOT regexp_matches(external_key, '^C[0-9]{7}$')") == 0
    tiers = _one(raw, "SELECT count(DISTINCT json_extract_string(attributes, '$.loyalty_tier')) FROM crm_contacts")
    assert tiers == 4
    assert _one(raw, "SELECT count(DISTINCT currency) FROM shop_orders") == 6


def test_provider_events_tell_every_deliverability_story(raw: duckdb.DuckDBPyConnection) -> None:
    events = {r[0] for r in raw.execute("SELECT DISTINCT event FROM esp_events").fetchall()}
    assert events == {
        "processed", "delivered", "deferred", "bounce", "dropped", "open", "click", "spamreport", "unsubscribe"
    }  # fmt: skip
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE bounce_type = 'bounce'") >= 2
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE event = 'click' AND url IS NULL") == 0
    # Quarantine: five soft bounces or more, at least a day apart, with no delivery in between.
    assert (
        _one(
            raw,
            """
        WITH soft AS (
            SELECT email, occurred_at,
                occurred_at - lag(occurred_at) OVER (PARTITION BY email ORDER BY occurred_at) AS gap
            FROM esp_events WHERE bounce_type = 'blocked'
        )
        SELECT count(*) FROM (
            SELECT email FROM soft GROUP BY email
            HAVING count(DISTINCT occurred_at) >= 5 AND min(gap) >= INTERVAL 24 HOURS
               AND email NOT IN (SELECT email FROM esp_events WHERE event = 'delivered'))""",
        )
        >= 2
    )
    # Reset: soft bounces, then a delivery.
    assert (
        _one(
            raw,
            """
        SELECT count(DISTINCT b.email) FROM esp_events b JOIN esp_events d
            ON d.email = b.email AND d.event = 'delivered' AND d.occurred_at > b.occurred_at
        WHERE b.bounce_type = 'blocked'""",
        )
        >= 2
    )
    assert _one(raw, "SELECT count(DISTINCT email) FROM esp_events WHERE event = 'spamreport'") >= 2


def test_some_provider_events_are_posted_twice(raw: duckdb.DuckDBPyConnection) -> None:
    twice = _one(
        raw,
        """
        SELECT count(*) FROM (
            SELECT sg_event_id FROM esp_events GROUP BY sg_event_id
            HAVING count(*) = 2 AND count(DISTINCT (event, message_id, occurred_at, email)) = 1)""",
    )
    assert twice >= 2
    assert _one(raw, "SELECT max(n) FROM (SELECT count(*) AS n FROM esp_events GROUP BY sg_event_id)") == 2


def test_unsubscribes_become_consent_and_stop_later_sends(raw: duckdb.DuckDBPyConnection) -> None:
    assert (
        _one(
            raw,
            """
        SELECT count(*) FROM consent_events c
        ANTI JOIN esp_events e ON e.message_id = c.evidence_id AND e.event = 'unsubscribe'
        WHERE c.source = 'unsubscribe_link'""",
        )
        == 0
    )
    topics = ", ".join(f"('CMP{k:02d}', '{c.topic}')" for k, c in enumerate(CAMPAIGNS, start=1))
    later_sends = _one(
        raw,
        f"""
        WITH topic(campaign_id, topic) AS (VALUES {topics})
        SELECT count(*) FROM consent_events c
        JOIN message_history m ON m.external_key = c.external_key AND m.channel = c.channel
            AND m.sent_at > c.occurred_at
        JOIN topic USING (campaign_id)
        WHERE c.source = 'unsubscribe_link' AND topic.topic = c.topic""",
    )
    assert later_sends == 0
    assert _one(raw, "SELECT count(*) FROM consent_events WHERE source = 'unsubscribe_link'") >= 1


def test_progress_is_reported_until_done(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    generate(tmp_path, profiles=50, events_per_profile=2, batch_time=BATCH_TIME, progress=lambda *a: seen.append(a))
    assert [d for _, d, _ in seen] == list(range(1, len(seen) + 1))
    assert seen[-1][1] == seen[-1][2]
    assert {label for label, _, _ in seen} >= {"crm_contacts", "app_events 1/1", "esp_events"}


def test_odd_sizes_and_thread_counts_give_the_same_exact_rows(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", profiles=37, events_per_profile=7, batch_time=BATCH_TIME, threads=1)
    two = generate(tmp_path / "two", profiles=37, events_per_profile=7, batch_time=BATCH_TIME, threads=2)
    assert one.rows == two.rows
    assert one.rows["app_events"] == 37 * 7
    con = duckdb.connect()
    for t in ALL_TABLES:
        a, b = (f"SELECT * FROM read_parquet('{d}/{t.name}/*.parquet')" for d in (one.out_dir, two.out_dir))
        assert _one(con, f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))") == 0, t.name
    none = generate(tmp_path / "none", profiles=5, events_per_profile=0, batch_time=BATCH_TIME)
    assert none.rows["app_events"] == 0
    assert len(list((tmp_path / "none" / "app_events").glob("*.parquet"))) == 1


def test_provider_events_carry_sendgrid_details(raw: duckdb.DuckDBPyConnection) -> None:
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE event = 'bounce' AND bounce_classification IS NULL") == 0
    assert _one(raw, "SELECT count(DISTINCT bounce_classification) FROM esp_events") >= 3
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE event IN ('open', 'click') AND useragent IS NULL") == 0
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE event = 'open' AND sg_machine_open = 1") > 0
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE event = 'click' AND url_offset_index IS NULL") == 0
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE event = 'deferred' AND attempt IS NULL") == 0
    assert _one(raw, "SELECT count(*) FROM esp_events WHERE NOT json_valid(categories)") == 0
    # The same event posted again under a new sg_event_id: same message, type, time and URL.
    assert (
        _one(
            raw,
            "SELECT count(*) FROM (SELECT message_id, event, occurred_at, url FROM esp_events "
            "GROUP BY ALL HAVING count(DISTINCT sg_event_id) > 1)",
        )
        > 0
    )


def test_sms_and_push_callbacks_for_every_message(raw: duckdb.DuckDBPyConnection) -> None:
    missing = _one(
        raw,
        "SELECT count(*) FROM message_history m ANTI JOIN channel_events c USING (message_id) "
        "WHERE m.channel IN ('sms', 'push')",
    )
    assert missing == 0
    assert _one(raw, "SELECT count(*) FROM channel_events ANTI JOIN message_history USING (message_id)") == 0
    providers = {tuple(r) for r in raw.execute("SELECT DISTINCT provider, channel FROM channel_events").fetchall()}
    assert providers == {("twilio", "sms"), ("fcm", "push")}
    assert _one(raw, "SELECT count(*) FROM channel_events WHERE event IN ('failed', 'undelivered')") > 0
    assert (
        _one(raw, "SELECT count(*) FROM channel_events WHERE event IN ('failed', 'undelivered') AND error_code IS NULL")
        == 0
    )


def test_payments_tell_every_story(raw: duckdb.DuckDBPyConnection) -> None:
    """Every payment status but pending shows up, in the order statuses that explain it."""
    found = set(
        raw.execute(
            "SELECT o.status, p.status FROM shop_payments p JOIN shop_orders o USING (order_id) GROUP BY ALL"
        ).fetchall()
    )
    assert {("completed", "captured"), ("completed", "failed"), ("completed", "refunded")} <= found
    assert {("refunded", "captured"), ("refunded", "refunded")} <= found
    assert {("cancelled", "authorized"), ("cancelled", "voided"), ("cancelled", "failed")} <= found
    assert not {s for _, s in found} - {"captured", "refunded", "failed", "authorized", "voided"}
    assert _one(raw, "SELECT count(*) FROM shop_payments WHERE amount <= 0") == 0
