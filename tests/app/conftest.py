"""Fixtures for the app tests: a published warehouse to point the app at, and helpers to read it directly."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Stand-in marts with the contract of docs/marts.md, until the demo loader can build the real ones.
DDL = """
create table profiles (profile_id varchar, external_key varchar, first_name varchar, last_name varchar, full_name varchar,
 email varchar, email_domain varchar, phone varchar, address_line1 varchar, address_line2 varchar, postal_code varchar,
 city varchar, country_code varchar, language_code varchar, locale varchar, time_zone varchar, attributes varchar,
 merged_contact_count integer, order_count integer, lifetime_value double, average_order_value double,
 recency_score integer, frequency_score integer, monetary_score integer, rfm_segment varchar,
 messages_received_recent integer, opens_recent integer, clicks_recent integer, engagement_score integer,
 email_quarantine_status varchar, email_quarantine_reason varchar, birth_date date, first_order_at timestamp,
 last_order_at timestamp, last_purchase_at timestamp, last_open_at timestamp, last_click_at timestamp,
 last_seen_at timestamp, is_email_valid boolean, is_phone_valid boolean, is_email_reachable boolean,
 is_sms_reachable boolean, is_push_reachable boolean, is_in_app_reachable boolean, is_direct_mail_reachable boolean,
 created_at timestamp, updated_at timestamp);
create table profile_identities (external_key varchar, profile_id varchar, match_rule varchar, is_survivor boolean);
create table profile_consents (profile_consent_id varchar, profile_id varchar, channel varchar, topic varchar,
 consent_status varchar, source varchar, evidence_id varchar, ip_address varchar, consent_event_id varchar,
 is_opted_in boolean, status_since timestamp, last_changed_at timestamp);
create table address_quarantines (address_quarantine_id varchar, channel varchar, address varchar, quarantine_status varchar,
 quarantine_reason varchar, last_error_reason varchar, soft_bounce_count integer, is_quarantined boolean,
 quarantined_since timestamp, last_error_at timestamp, last_delivered_at timestamp);
create table profile_events (event_id varchar, profile_id varchar, event_type varchar, url varchar, product_id varchar,
 category varchar, search_query varchar, platform varchar, app_version varchar, event_date date, occurred_at timestamp);
create table orders (order_id varchar, profile_id varchar, status varchar, sales_channel varchar, currency varchar,
 total_amount double, total_amount_eur double, line_count integer, item_quantity integer, is_completed boolean,
 order_date date, ordered_at timestamp);
create table order_lines (order_line_id varchar, order_id varchar, profile_id varchar, product_id varchar,
 product_name varchar, category varchar, quantity integer, unit_price double, line_amount double);
create table messages (message_id varchar, profile_id varchar, campaign_id varchar, campaign_name varchar, channel varchar,
 address varchar, open_count integer, click_count integer, bounce_type varchar, is_delivered boolean, is_opened boolean,
 is_clicked boolean, is_bounced boolean, is_unsubscribed boolean, is_spam_reported boolean, sent_at timestamp,
 delivered_at timestamp, first_opened_at timestamp, first_clicked_at timestamp);
create table message_events (message_event_id varchar, message_id varchar, profile_id varchar, event_type varchar,
 email varchar, bounce_type varchar, reason varchar, url varchar, occurred_at timestamp);
create table push_devices (device_id varchar, profile_id varchar, platform varchar, token varchar, is_active boolean,
 registered_at timestamp, unregistered_at timestamp);
"""


def _make_stand_in(warehouse_dir: Path, n: int = 120) -> Path:
    pub = warehouse_dir / "published"
    pub.mkdir(parents=True, exist_ok=True)
    path = pub / "herald-20250101T000000000000Z.duckdb"
    con = duckdb.connect(str(path))
    con.execute(DDL)
    con.execute(f"""
    insert into profiles select 'p' || i, 'C' || lpad(i::varchar, 5, '0'), 'First' || i, 'Last' || i, 'First' || i || ' Last' || i,
      case when i % 17 = 0 then null else 'user' || i || '@example.' || (case when i % 3 = 0 then 'fr' else 'com' end) end,
      'example.com', '+3361234' || lpad(i::varchar,4,'0'), i || ' rue X', null, '75001', 'Paris',
      (['FR','DE','GB','ES','IT'])[1 + i % 5], 'fr', 'fr-FR', 'Europe/Paris',
      '{{"vip": ' || (i % 2 = 0) || ', "favourite_colour": "blue", "sizes": [1,2]}}',
      1 + (i % 7 = 0)::int, i % 4, (i % 4) * 42.5, 42.5, 1 + i % 5, 1 + i % 5, 1 + i % 5,
      (['champions','loyal','at_risk','hibernating','new'])[1 + i % 5], 3, 1, 0, i % 100,
      case when i % 13 = 0 then 'quarantined' else 'none' end, case when i % 13 = 0 then 'hard_bounce' end,
      date '1990-01-01', timestamp '2024-01-01', timestamp '2024-06-01', timestamp '2024-06-01', null, null, timestamp '2024-07-01',
      i % 17 <> 0, true, i % 17 <> 0 and i % 13 <> 0, i % 2 = 0, i % 3 = 0, i % 4 = 0, i % 5 <> 0,
      timestamp '2023-01-01', timestamp '2024-07-01'
    from range(1, {n} + 1) t(i);
    insert into profile_identities select external_key, profile_id, 'survivor', true from profiles;
    insert into profile_identities select 'OLD' || profile_id, profile_id, 'same_email', false from profiles where merged_contact_count > 1;
    insert into profile_consents select 'pc' || profile_id || c, profile_id, c, 'newsletter',
      case when hash(profile_id || c) % 3 = 0 then 'opted_out' else 'opted_in' end, 'web_form', 'ev-' || profile_id, '192.0.2.1', 'ce1',
      hash(profile_id || c) % 3 <> 0, timestamp '2024-02-01', timestamp '2024-02-01'
      from profiles, (values ('email'), ('sms'), ('push')) v(c) where hash(profile_id || c) % 4 <> 0;
    insert into address_quarantines select 'aq' || profile_id, 'email', email, 'quarantined', 'hard_bounce', '550 no such user', 0, true,
      timestamp '2024-03-01', timestamp '2024-03-01', null from profiles where email_quarantine_status = 'quarantined';
    insert into address_quarantines values ('aqx', 'email', 'x@example.com', 'active', null, '421 try later', 2, false, null, timestamp '2024-03-01', timestamp '2024-03-02'),
      ('aqy', 'email', 'y@example.com', 'denylisted', 'spam_complaint', null, 0, true, timestamp '2024-03-01', timestamp '2024-03-01', null),
      ('aqz', 'sms', '+33600000000', 'quarantined', 'soft_bounces', 'unreachable', 5, true, timestamp '2024-03-01', timestamp '2024-03-01', null);
    insert into orders select 'o' || profile_id || '-' || k, profile_id, 'completed', 'web', 'EUR', 42.5, 42.5, 1, 1, true,
      date '2024-01-01' + (k * 30)::int, timestamp '2024-01-01' + to_days((k * 30)::int) from profiles, range(order_count) r(k);
    insert into order_lines select order_id || '-1', order_id, profile_id, 'sku1', 'Blue shirt', 'shirts', 1, 42.5, 42.5 from orders;
    insert into messages select 'm' || profile_id, profile_id, 'c1', 'Spring sale', 'email', email, 1, 1, null, true, true, true, false, false, false,
      timestamp '2024-04-01', timestamp '2024-04-01 00:01', timestamp '2024-04-01 08:00', timestamp '2024-04-01 08:01' from profiles where email is not null;
    insert into message_events select 'me' || message_id || e, message_id, profile_id, e, address, null, null, null, timestamp '2024-04-01' + to_minutes(len(e))
      from messages, (values ('delivered'), ('open'), ('click')) v(e);
    insert into profile_events select 'e' || profile_id || k, profile_id, (['page_view','product_view','search','add_to_cart'])[1 + k % 4],
      '/p/' || k, 'sku' || k, 'shirts', case when k % 4 = 2 then 'blue shirt' end, 'web', null, date '2024-05-01' + k::int, timestamp '2024-05-01' + to_hours((k * 20)::int)
      from profiles, range(8) r(k);
    insert into push_devices select 'd' || profile_id, profile_id, 'ios', 'tok', true, timestamp '2024-01-01', null from profiles where is_push_reachable;
    create schema herald_meta;
    create table herald_meta.build_info as select 'dev-build' as build_id, '20250101T000000Z-demo' as batch_cutoff, now()::timestamp as published_at;
    """)
    con.close()
    (warehouse_dir / "CURRENT").write_text(path.name + "\n")
    return path


class Warehouse:
    """A published warehouse folder and read-only queries against the file ``CURRENT`` names."""

    def __init__(self, warehouse_dir: Path) -> None:
        self.dir = warehouse_dir

    @property
    def path(self) -> Path:
        name = (self.dir / "CURRENT").read_text(encoding="utf-8").strip()
        return self.dir / "published" / name

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.rows(sql, params)[0][0]


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A published warehouse, built once per session. Treat it as read-only."""
    wh_dir = tmp_path_factory.mktemp("app") / "warehouse"
    _make_stand_in(wh_dir)
    yield Warehouse(wh_dir)


@pytest.fixture
def app_env(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """Point the app (run in this process by AppTest) at the session warehouse."""
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(warehouse.dir))
    return warehouse


@pytest.fixture
def own_warehouse(warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """A private copy of the session warehouse that a test may publish into, with the app pointed at it."""
    wh_dir = tmp_path / "warehouse"
    (wh_dir / "published").mkdir(parents=True)
    shutil.copyfile(warehouse.path, wh_dir / "published" / warehouse.path.name)
    (wh_dir / "CURRENT").write_text(warehouse.path.name + "\n", encoding="utf-8")
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(wh_dir))
    return Warehouse(wh_dir)


@pytest.fixture
def no_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at a warehouse folder where nothing has been published."""
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    return tmp_path / "warehouse"
