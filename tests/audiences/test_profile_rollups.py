"""Conditions answered from profile_rollups select the same profiles as the subqueries over the facts:
on the demo warehouse, for hostile event types, and in a build of audience models alone (a later as_of)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from herald import warehouse
from herald.audiences.compiler import Compiler, timestamp_literal
from herald.audiences.live import LiveWarehouse, open_live
from herald.audiences.schema import PROFILE_ROLLUPS, from_warehouse
from herald.audiences.service import build_and_report, save_audience
from herald.audiences.spec import AudienceSpec, parse_spec
from herald.build import published_build
from herald.errors import AudienceNotFound
from herald.project import Project
from tests.audiences.reference import AS_OF, make_dataset, profile_rollups

# Each is answered from the rollup: event counts per type and in all, orders (all or completed) counted and
# summed, consent flags, conditions that hold at 0 (did_not, lt) and negations.
ANSWERED: list[dict[str, Any]] = [
    {"events": {"type": "product_view", "at_least": 2, "within_days": 30}},
    {"events": {"type": "add_to_cart", "did_not": True, "within_days": 7}},
    {"events": {"within_days": 90, "count": {"gte": 20}}},
    {"orders": {"within_days": 180, "sum": {"column": "total_amount_eur", "gte": 50}}},
    {"orders": {"within_days": 365, "where": {"is_completed": True}, "count": {"gte": 2}}},
    {
        "not": {
            "orders": {
                "within_days": 90,
                "where": {"is_completed": True},
                "sum": {"column": "total_amount_eur", "lt": 30},
            }
        }
    },
    {"consent": {"channel": "email", "topic": "newsletter"}},
    {"not": {"consent": "sms"}},
    {
        "all": [
            {"country_code": {"in": ["FR", "DE", "BE"]}},
            {"events": {"type": "product_view", "at_least": 2, "within_days": 30}},
            {"orders": {"within_days": 180, "count": {"eq": 0}}},
            {"consent": {"channel": "email", "topic": "newsletter"}},
        ]
    },
]


def members(live: LiveWarehouse, compiler: Compiler, spec: AudienceSpec) -> set[str]:
    return {str(r["profile_id"]) for r in live.reader.arrow(compiler.sql(spec)).to_pylist()}


def test_rollup_and_subqueries_select_the_same_profiles_on_the_demo_warehouse(demo_project: Project) -> None:
    with open_live(demo_project) as live:
        assert live.rollups_as_of == live.as_of  # built in the same build, at the same as_of
        rolled_up = live.compiler()
        assert rolled_up.rollups
        plain = dataclasses.replace(rolled_up, rollups=False)
        total = live.reader.arrow("select count(*) as n from profiles").column("n")[0].as_py()
        for raw in ANSWERED:
            spec = parse_spec({"name": "probe", "where": raw})
            assert PROFILE_ROLLUPS in rolled_up.sql(spec) and PROFILE_ROLLUPS not in plain.sql(spec), raw
            found = members(live, rolled_up, spec)
            assert found == members(live, plain, spec), raw
            assert 0 < len(found) < total, raw  # a condition nobody (or everybody) meets would prove nothing


def test_a_rollup_built_at_another_as_of_is_not_read(demo_project: Project) -> None:
    with open_live(demo_project) as live:
        later = dataclasses.replace(live, as_of=live.as_of + dt.timedelta(seconds=1))
        assert not later.compiler().rollups
        spec = parse_spec({"name": "probe", "where": ANSWERED[0]})
        assert PROFILE_ROLLUPS not in later.sql(spec)


def _no_saved(name: str) -> AudienceSpec:
    raise AudienceNotFound(f"no audience {name!r}")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    data = make_dataset()
    data.load(con)
    profile_rollups(data).load(con)
    yield con
    con.close()


@pytest.mark.parametrize(
    "name",
    ["x'; drop table profiles; --", "product_view_event_count_7_days", "Product_View", "{{ ref('x') }}", "all"],
)
def test_hostile_names_are_values_never_column_names(con: duckdb.DuckDBPyConnection, name: str) -> None:
    compiler = Compiler(schema=from_warehouse(con), resolve=_no_saved, as_of=timestamp_literal(AS_OF))
    for where in (
        {"events": {"type": name, "within_days": 7}},
        {"consent": {"channel": "email", "topic": name}},
    ):
        sql = compiler.sql(parse_spec({"name": "hostile", "where": where}))
        assert PROFILE_ROLLUPS not in sql  # no such column: the subquery compares the text as a literal
        assert con.execute(sql).fetchall() == []
    assert con.execute("select count(*) from profiles").fetchone()[0] > 0  # type: ignore[index]


@pytest.mark.slow
def test_an_audience_only_build_keeps_the_reference_time_and_reads_the_rollup(scratch_project: Project) -> None:
    """An audience build on top of the published one keeps that build's as_of: the model takes its query from the
    rollup built with it, and the live count (same as_of) agrees with the materialized audience."""
    project = scratch_project
    before = published_build(project)
    spec = parse_spec({"name": "product_viewers", "where": ANSWERED[0]})
    save_audience(project, spec)
    result = build_and_report(project, ["product_viewers"])
    assert result.published_path is not None
    after = published_build(project)
    assert before is not None and after is not None and after.as_of == before.as_of
    run_sql = next((project.warehouse_dir / "dbt" / "target" / "run").rglob("aud_product_viewers.sql"))
    assert " AS agg" in run_sql.read_text(encoding="utf-8")  # the rollup's branch was taken
    with open_live(project) as live:
        assert live.rollups_as_of == live.as_of
        assert live.compiler().rollups
        count = live.count(spec).total
    con = warehouse.connect(project)
    try:
        assert con.execute("select count(*) from aud_product_viewers").fetchone() == (count,)
    finally:
        con.close()
    assert count > 0
