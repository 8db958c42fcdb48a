"""Bring your own tables: an outer dbt project installs Herald as a package and builds the marts over tables of
its own names and shapes (``vars: herald_sources``), on DuckDB and on PostgreSQL.

The outer project is what a data team has: customers as a model of theirs, marketing permissions and purchases
as seeds with their own column names, statuses spelt their way (mapped with SQL expressions), a test account to
leave out. Everything Herald lands itself (events, message history, the ledger) stays empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from herald.landing import ensure_initialized
from herald.project import Project
from tests.engines import Postgres, load_landing_into_postgres, postgres_cluster

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-28 12:00:00"

CUSTOMERS = """\
customer_id,email_address,given_name,family_name,country,signed_up_at,updated_ts,is_test_account
C-1,ada@example.com,Ada,Lovelace,GB,2025-01-10 09:00:00,2026-11-01 10:00:00,false
C-2,grace@example.com,Grace,Hopper,US,2025-03-02 12:30:00,2026-10-15 08:00:00,false
C-3,alan@example.com,Alan,Turing,GB,2026-02-20 18:45:00,2026-11-20 09:15:00,false
C-4,qa@example.com,QA,Robot,FR,2026-05-05 05:05:05,2026-11-25 05:05:05,true
"""

PERMISSIONS = """\
permission_id,customer_ref,medium,list_name,subscribed,changed_ts
P-1,C-1,EMAIL,newsletter,true,2025-01-10 09:05:00
P-2,C-2,EMAIL,newsletter,true,2025-03-02 12:35:00
P-3,C-2,EMAIL,newsletter,false,2026-06-01 07:00:00
P-4,C-3,SMS,promotions,true,2026-02-20 18:50:00
"""

PURCHASES = """\
purchase_no,buyer,state,grand_total,currency_iso,purchased_ts
O-1,C-1,SHIPPED,120.50,EUR,2026-11-02 14:00:00
O-2,C-1,SHIPPED,30.00,EUR,2026-11-20 10:00:00
O-3,C-3,CANCELLED,55.00,GBP,2026-11-21 11:00:00
"""

VARS = {
    "as_of": AS_OF,
    "herald_sources": {
        "crm_contacts": {
            "model": "customers",
            "columns": {
                "external_key": "customer_id",
                "email": "email_address",
                "first_name": "given_name",
                "last_name": "family_name",
                "country_code": "country",
                "created_at": "signed_up_at",
                "updated_at": "updated_ts",
            },
            "defaults": {"language_code": "'en'"},
            "loaded_at": "updated_ts",
            "where": "not is_test_account",
        },
        "consent_events": {
            "model": "marketing_permissions",
            "columns": {
                "consent_event_id": "permission_id",
                "external_key": "customer_ref",
                "channel": "lower(medium)",
                "topic": "list_name",
                "status": "case when subscribed then 'opt_in' else 'opt_out' end",
                "occurred_at": "changed_ts",
            },
            "defaults": {"source": "'preference_center'"},
        },
        "shop_orders": {
            "source": ["acme_shop", "purchases"],
            "columns": {
                "order_id": "purchase_no",
                "external_key": "buyer",
                "status": "case state when 'SHIPPED' then 'completed' when 'CANCELLED' then 'cancelled' end",
                "total_amount": "grand_total",
                "currency": "currency_iso",
                "ordered_at": "purchased_ts",
            },
        },
    },
}


def write_outer_project(folder: Path, profile_outputs: dict[str, Any]) -> None:
    """A dbt project of the data team's own, with Herald as a local package."""
    (folder / "models").mkdir(parents=True)
    (folder / "seeds").mkdir()
    (folder / "macros").mkdir()
    (folder / "dbt_project.yml").write_text(
        json.dumps(
            {
                "name": "acme",
                "version": "1.0.0",
                "config-version": 2,
                "profile": "acme",
                "model-paths": ["models"],
                "seed-paths": ["seeds"],
                "macro-paths": ["macros"],
                # Herald's overrides of dbt's own macros (the test filter of the append-only delivery models).
                "dispatch": [{"macro_namespace": "dbt", "search_order": ["acme", "herald", "dbt"]}],
                "seeds": {
                    "acme": {"+column_types": {"subscribed": "boolean", "is_test_account": "boolean"}},
                    "herald": {"demo": {"+enabled": False}},
                },
                "vars": VARS,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    (folder / "packages.yml").write_text(json.dumps({"packages": [{"local": str(ROOT)}]}), encoding="utf-8")
    (folder / "profiles.yml").write_text(
        json.dumps({"acme": {"target": "main", "outputs": {"main": profile_outputs}}}), encoding="utf-8"
    )
    (folder / "seeds" / "customers_raw.csv").write_text(CUSTOMERS, encoding="utf-8")
    (folder / "seeds" / "marketing_permissions.csv").write_text(PERMISSIONS, encoding="utf-8")
    (folder / "seeds" / "purchases.csv").write_text(PURCHASES, encoding="utf-8")
    (folder / "models" / "customers.sql").write_text("select * from {{ ref('customers_raw') }}\n", encoding="utf-8")
    (folder / "models" / "sources.yml").write_text(
        'version: 2\nsources:\n  - name: acme_shop\n    schema: "{{ target.schema }}"\n'
        "    tables:\n      - name: purchases\n",
        encoding="utf-8",
    )
    # Herald keeps one database on a server warehouse and puts the delivery runs in a file of their own on
    # DuckDB: the root project uses Herald's rule for database names.
    (folder / "macros" / "herald_database_names.sql").write_text(
        textwrap.dedent(
            """\
            {% macro generate_database_name(custom_database_name=none, node=none) -%}
                {{ herald.generate_database_name(custom_database_name, node) }}
            {%- endmacro %}
            """
        ),
        encoding="utf-8",
    )


def dbt(folder: Path, state: Project, *args: str, extra_env: dict[str, str] | None = None) -> str:
    env = {
        **os.environ,
        **(extra_env or {}),
        "DBT_PROFILES_DIR": str(folder),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "HERALD_LANDING_DIR": str(state.landing_dir),
        "HERALD_LEDGER_DIR": str(state.ledger_dir),
        "HERALD_INBOX_DIR": str(state.inbox_dir),
    }
    executable = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run([executable, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed:\n{proc.stdout[-8000:]}"
    return proc.stdout


def build(folder: Path, state: Project, extra_env: dict[str, str] | None = None) -> None:
    dbt(folder, state, "deps", extra_env=extra_env)
    dbt(folder, state, "seed", extra_env=extra_env)
    # The marts a marketer targets, with everything they read and every test on them.
    dbt(
        folder,
        state,
        "build",
        "--select",
        "+profiles",
        "+profile_consents",
        "+orders",
        "--indirect-selection",
        "cautious",
        extra_env=extra_env,
    )


EXPECTED_PROFILES = [
    ("ada@example.com", "GB", "en"),
    ("alan@example.com", "GB", "en"),
    ("grace@example.com", "US", "en"),
]
EXPECTED_ORDERS = [("O-1", "completed", 120.5), ("O-2", "completed", 30.0), ("O-3", "cancelled", 55.0)]
# Grace opted out after opting in; Ada is in; Alan only gave SMS consent to promotions.
EXPECTED_NEWSLETTER = [("ada@example.com", True), ("grace@example.com", False)]

PROFILES_SQL = "select email, country_code, language_code from {s}profiles order by email"
ORDERS_SQL = "select order_id, status, cast(total_amount as double precision) from {s}orders order by order_id"
CONSENT_SQL = (
    "select p.email, c.is_opted_in from {s}profile_consents c join {s}profiles p using (profile_id)"
    " where c.channel = 'email' and c.topic = 'newsletter' order by p.email"
)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Project]:
    """Herald's own landed inputs (events, history, ledger, inbox): present and empty."""
    project = Project(root=tmp_path / "unused", warehouse_dir=tmp_path / "herald-state")
    ensure_initialized(project)
    yield project


def test_an_outer_duckdb_project_builds_the_marts_over_its_own_tables(tmp_path: Path, state: Project) -> None:
    folder = tmp_path / "acme"
    database = tmp_path / "acme.duckdb"
    outputs = {
        "type": "duckdb",
        "path": str(database),
        "schema": "main",
        "attach": [{"path": str(tmp_path / "deliveries.duckdb"), "alias": "deliveries"}],
        "threads": 2,
    }
    write_outer_project(folder, outputs)
    build(folder, state)
    con = duckdb.connect(str(database), read_only=True)
    try:
        assert con.execute(PROFILES_SQL.format(s="")).fetchall() == EXPECTED_PROFILES
        assert con.execute(ORDERS_SQL.format(s="")).fetchall() == EXPECTED_ORDERS
        assert con.execute(CONSENT_SQL.format(s="")).fetchall() == EXPECTED_NEWSLETTER
        # The orders reached their profiles through the identity mapping.
        assert con.execute("select count(*) from orders where profile_id is null").fetchone() == (0,)
    finally:
        con.close()


def test_an_outer_postgres_project_builds_the_same_marts(tmp_path: Path, state: Project) -> None:
    import psycopg2

    with postgres_cluster() as pg:
        load_landing_into_postgres(state.landing_dir, pg, "acme")  # Herald's own inputs: empty tables
        folder = tmp_path / "acme"
        write_outer_project(folder, _postgres_outputs(pg))
        build(folder, state)
        conn = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.dbname)
        try:
            cur = conn.cursor()
            cur.execute(PROFILES_SQL.format(s="acme."))
            assert cur.fetchall() == EXPECTED_PROFILES
            cur.execute(ORDERS_SQL.format(s="acme."))
            assert cur.fetchall() == EXPECTED_ORDERS
            cur.execute(CONSENT_SQL.format(s="acme."))
            assert cur.fetchall() == EXPECTED_NEWSLETTER
        finally:
            conn.close()


def _postgres_outputs(pg: Postgres) -> dict[str, Any]:
    return {
        "type": "postgres",
        "host": pg.host,
        "port": pg.port,
        "user": pg.user,
        "password": "",
        "dbname": pg.dbname,
        "schema": "acme",
        "threads": 2,
    }


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        ("crm_contacts", ("columns", "favourite_colour", "colour"), "crm_contacts has no column favourite_colour"),
        ("shop_orders", ("columns", "order_id", None), "shop_orders.order_id is required: map it under columns"),
        ("shop_orders", ("model", None, "orders_v2"), "give exactly one of model, source or table"),
    ],
)
def test_a_wrong_mapping_fails_the_parse_with_its_path(
    tmp_path: Path, state: Project, table: str, change: tuple[str, str | None, str | None], message: str
) -> None:
    folder = tmp_path / "acme"
    write_outer_project(folder, {"type": "duckdb", "path": str(tmp_path / "x.duckdb"), "schema": "main"})
    doc = json.loads((folder / "dbt_project.yml").read_text(encoding="utf-8"))
    own = doc["vars"]["herald_sources"][table]
    key, column, value = change
    if column is None:
        own[key] = value
    elif value is None:
        del own[key][column]
    else:
        own[key][column] = value
    (folder / "dbt_project.yml").write_text(json.dumps(doc), encoding="utf-8")
    dbt(folder, state, "deps")
    env = {**os.environ, "DBT_PROFILES_DIR": str(folder), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    executable = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run([executable, "parse"], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert f"vars.herald_sources.{table}" in proc.stdout and message in proc.stdout, proc.stdout[-3000:]
