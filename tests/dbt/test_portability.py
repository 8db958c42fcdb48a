"""The same dbt project, unchanged, builds and passes its tests on PostgreSQL and Spark, with the same answers.

DuckDB (the embedded default) reads the demo data through the landing zone; the other engines load the same
demo batches into the raw schema (PostgreSQL by COPY, Spark from the Parquet files). The answers are compared
mart by mart with the DuckDB build. Spark builds every model and runs every unit test and our own data tests
(see SPARK_BUILD).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from herald import warehouse
from herald.project import Project
from tests.conftest import ROOT, SKIP_UNIT_TESTS
from tests.engines import postgres_cluster

pytestmark = [pytest.mark.slow, pytest.mark.portability]

# One comparable figure per mart: the row count, plus sums that exercise the logic (identity merge,
# normalization, quarantine, consent, reachability, currency conversion, payments per order).
CHECKS: dict[str, str] = {
    "profiles": "count(*)",
    "profiles_email_reachable": "sum(case when is_email_reachable then 1 else 0 end)",
    "profiles_sms_reachable": "sum(case when is_sms_reachable then 1 else 0 end)",
    "profiles_push_reachable": "sum(case when is_push_reachable then 1 else 0 end)",
    "profiles_direct_mail_reachable": "sum(case when is_direct_mail_reachable then 1 else 0 end)",
    "profiles_valid_phones": "count(phone)",
    "profiles_ltv": "round(sum(lifetime_value))",
    "profiles_order_count": "sum(order_count)",
}
MART_COUNTS = [
    "profiles",
    "profile_identities",
    "profile_consents",
    "address_quarantines",
    "profile_events",
    "orders",
    "order_lines",
    "messages",
    "message_events",
    "push_devices",
]


# The audience with a split whose membership and groups must be identical on every engine.
SPLIT_AUDIENCE = "winter_sale_test"

# dbt threads on PostgreSQL (the profile says 2): the server works while dbt renders the next nodes.
POSTGRES_THREADS = 4
# dbt threads on Spark (the profile says 1): most of a node's time is driver work (analysis, planning)
# and dbt's own, so several nodes side by side keep two cores busy.
SPARK_THREADS = 4
# What Spark builds: every model, seed and unit test of the project and our own (singular) data tests. Left out,
# because they prove nothing there that the other engines do not: dbt's generic tests (unique, not_null,
# accepted_values, relationships: dbt's SQL, not ours; DuckDB and PostgreSQL run every one, and the answers are
# compared below), which are two thirds of the Spark build's nodes at a second or more each; the tests on the
# raw sources, which check the demo batches themselves; and the tests on the delivery models, which check the
# run being prepared — none is prepared here (the models are empty).
SPARK_BUILD = [
    "build",
    "--exclude",
    "path:seeds/demo",
    "source:*",
    "test_type:generic",
    "tag:delivery,resource_type:test",
    "--threads",
    str(SPARK_THREADS),
]


def _membership_sql(engine: str, schema: str) -> str:
    pair = "concat(profile_id, ':', audience_group)"
    agg = f"concat_ws(',', collect_list({pair}))" if engine == "spark" else f"string_agg({pair}, ',')"
    return f"select {agg} from {schema}aud_{SPLIT_AUDIENCE}"


def _members(value: str | None) -> list[str]:
    return sorted(value.split(",")) if value else []


def _figures(run: Any, schema: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mart in MART_COUNTS:
        out[f"{mart}_rows"] = run(f"select count(*) from {schema}{mart}")
    for name, expr in CHECKS.items():
        out[name] = run(f"select {expr} from {schema}profiles")
    out["quarantined"] = run(f"select count(*) from {schema}address_quarantines where quarantine_status <> 'active'")
    out["opted_in"] = run(f"select count(*) from {schema}profile_consents where is_opted_in")
    out["orders_paid"] = run(f"select round(sum(paid_amount)) from {schema}orders")
    out["orders_refunded"] = run(f"select round(sum(refunded_amount)) from {schema}orders")
    out["orders_payments"] = run(f"select sum(payment_count) from {schema}orders")
    return {k: (int(v) if v is not None else None) for k, v in out.items()}


@pytest.fixture(scope="module")
def duckdb_figures(demo_project: Project) -> dict[str, Any]:
    con = warehouse.connect(demo_project)
    try:
        return _figures(lambda q: con.execute(q).fetchone()[0], "main.")  # type: ignore[index]
    finally:
        con.close()


@pytest.fixture(scope="module")
def duckdb_members(demo_project: Project) -> list[str]:
    con = warehouse.connect(demo_project)
    try:
        members = _members(con.execute(_membership_sql("duckdb", "main.")).fetchone()[0])  # type: ignore[index]
    finally:
        con.close()
    assert len({m.split(":")[1] for m in members}) == 3  # every group is populated
    return members


@pytest.fixture(scope="module")
def build_vars(demo_project: Project) -> list[str]:
    """The DuckDB build's reference time, so time windows mean the same on every engine."""
    con = warehouse.connect(demo_project)
    try:
        as_of = con.execute("select strftime(as_of, '%Y-%m-%d %H:%M:%S') from herald_meta.build_info").fetchone()
    finally:
        con.close()
    assert as_of is not None
    return ["--vars", json.dumps({"as_of": as_of[0]})]


def _dbt_env(env: dict[str, str], target_dir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != SKIP_UNIT_TESTS},  # every unit test runs on every engine
        **env,
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(target_dir / "target"),
        "DBT_LOG_PATH": str(target_dir / "logs"),
        "HERALD_LANDING_DIR": str(target_dir / "unused-landing"),
    }


def _dbt(args: list[str], env: dict[str, str], target_dir: Path) -> None:
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [dbt, *args], cwd=ROOT, env=_dbt_env(env, target_dir), capture_output=True, text=True, timeout=1500
    )
    assert proc.returncode == 0, f"dbt {' '.join(args)} failed on {env['HERALD_TARGET']}:\n{proc.stdout[-6000:]}"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    with postgres_cluster() as pg:
        yield pg


def test_postgres_builds_and_agrees_with_duckdb(
    postgres: Any,
    demo_project: Project,
    duckdb_figures: dict[str, Any],
    duckdb_members: list[str],
    build_vars: list[str],
    tmp_path: Path,
) -> None:
    """`herald build` with HERALD_WAREHOUSE_URL: the demo's landed batches appended to the raw schema, every
    model and test built into a build schema, published by a swap; the marts, the audiences and the live counts
    read through the warehouse seam agree with DuckDB's."""
    import psycopg2

    from herald.sql_build import build as build_on_sql
    from herald.warehouse import SqlWarehouse

    # The demo seeds' column types work on PostgreSQL (the small ones; the rest land from the batches).
    _dbt(["seed", "--select", "push_tokens", "import_batches", *build_vars], postgres.env(), tmp_path)
    url = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{postgres.dbname}?schema=herald"
    wh = SqlWarehouse(url)
    state = Project(root=ROOT, warehouse_dir=tmp_path / "state", landing=demo_project.landing_dir)
    as_of = json.loads(build_vars[1])["as_of"]
    first = build_on_sql(state, wh, as_of=as_of, quiet=True)
    conn = psycopg2.connect(host=postgres.host, port=postgres.port, user=postgres.user, dbname=postgres.dbname)
    try:
        cur = conn.cursor()

        def run(q: str) -> Any:
            cur.execute(q)
            return cur.fetchone()[0]  # type: ignore[index]

        assert _figures(run, "herald.") == duckdb_figures
        assert _members(run(_membership_sql("postgres", "herald."))) == duckdb_members
        assert run("select build_id from herald_meta.build_info") == first.build_id
    finally:
        conn.close()
    assert _live_counts(demo_project, {"HERALD_WAREHOUSE_URL": url}) == _live_counts(demo_project, {})
    # Landing again appends nothing (a batch's id is its key); building again publishes by the same swap.
    from herald.sql_build import land

    assert land(state, wh).appended == 0
    second = build_on_sql(state, wh, as_of=as_of, quiet=True)
    with psycopg2.connect(host=postgres.host, port=postgres.port, user=postgres.user, dbname=postgres.dbname) as c2:
        cur2 = c2.cursor()
        cur2.execute("select build_id from herald_meta.build_info")
        assert cur2.fetchone() == (second.build_id,)
        cur2.execute("select schema_name from information_schema.schemata where schema_name like 'herald%'")
        # The published schemas, the raw one and the record: no build or replaced schema left behind.
        assert {row[0] for row in cur2.fetchall()} == {"herald", "herald_reference", "herald_raw", "herald_meta"}


def _live_counts(project: Project, env: dict[str, str]) -> dict[str, Any]:
    from herald.audiences.library import AudienceLibrary
    from herald.audiences.live import open_live

    previous = os.environ.pop("HERALD_WAREHOUSE_URL", None)
    os.environ.update(env)
    try:
        with open_live(project) as live:
            assert live.reader.dialect == ("postgres" if env else "duckdb")
            specs = AudienceLibrary.of(project).all()
            counts = {spec.name: live.count(spec) for spec in specs}
            assert counts, "the demo has saved audiences to count"
            return {"as_of": live.as_of, "counts": counts}
    finally:
        os.environ.pop("HERALD_WAREHOUSE_URL", None)
        if previous is not None:
            os.environ["HERALD_WAREHOUSE_URL"] = previous


def test_spark_builds_and_agrees_with_duckdb(
    demo_project: Project,
    duckdb_figures: dict[str, Any],
    duckdb_members: list[str],
    build_vars: list[str],
    tmp_path: Path,
) -> None:
    spark_dir = tmp_path / "spark"
    queries: list[str] = []
    _figures(lambda q: queries.append(q) or 0, "herald.")
    queries.append(_membership_sql("spark", "herald."))
    spec = {
        # Raw data reaches Spark as files, as it would in a Spark warehouse (dbt-spark seeds insert ~300 rows/s).
        "landing_dir": str(demo_project.landing_dir),
        "spark_dir": str(spark_dir),
        "schema": "herald",
        "dbt_build": SPARK_BUILD,
        "dbt_vars": build_vars,
        "queries": queries,
        "result_file": str(tmp_path / "figures.json"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {"HERALD_TARGET": "spark", "HERALD_SPARK_DIR": str(spark_dir), "HERALD_SPARK_SCHEMA": "herald"}
    # Load, build and query in one worker process: one JVM and its in-memory catalog for every step.
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests/spark_worker.py"), str(tmp_path / "spec.json")],
        env=_dbt_env(env, tmp_path),
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    values = iter(json.loads((tmp_path / "figures.json").read_text(encoding="utf-8")))
    assert _figures(lambda q: next(values), "herald.") == duckdb_figures
    assert _members(next(values)) == duckdb_members


def test_duckdb_build_reads_raw_through_the_landing_zone(demo_project: Project) -> None:
    """On DuckDB the demo seeds are not loaded by dbt: the raw schema stays empty and sources read Parquet."""
    con = duckdb.connect(str(warehouse.current_path(demo_project)), read_only=True)
    try:
        schemas = {r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()}
    finally:
        con.close()
    assert "main_raw" not in schemas
