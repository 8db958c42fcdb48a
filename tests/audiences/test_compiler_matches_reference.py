"""Random specs, compiled and run on DuckDB, select exactly the members the plain-Python evaluator selects.

The database holds a ``profile_rollups`` table (computed in plain Python, see reference.py), so the compiler
answers some window and consent conditions from it and the rest with subqueries: both must agree with the evaluator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.audiences.compiler import Compiler, timestamp_literal
from herald.audiences.schema import from_warehouse
from herald.audiences.spec import AudienceSpec, parse_spec
from herald.errors import AudienceNotFound
from tests.audiences.reference import (
    AS_OF,
    COUNTRIES,
    EVENT_TYPES,
    NAMES,
    ROLLUP_DAYS,
    ROLLUP_EVENT_TYPES,
    Reference,
    make_dataset,
    profile_rollups,
)

DATA = make_dataset()
SAVED = {
    "francophone": parse_spec({"name": "francophone", "where": {"country_code": {"in": ["FR", "BE"]}}}),
    "buyers_split": parse_spec(
        {
            "name": "buyers_split",
            "where": {"orders": {"within_days": 100, "count": {"gte": 1}}},
            "split": {"groups": {"A": 50, "B": 30, "C": 20}, "salt": "s1"},
        }
    ),
}


def resolve(name: str) -> AudienceSpec:
    try:
        return SAVED[name]
    except KeyError:
        raise AudienceNotFound(f"no audience {name!r}") from None


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    DATA.load(con)
    profile_rollups(DATA).load(con)
    yield con
    con.close()


def compiler(con: duckdb.DuckDBPyConnection, *, rollups: bool = True) -> Compiler:
    return Compiler(
        schema=from_warehouse(con),
        resolve=resolve,
        as_of=timestamp_literal(AS_OF),
        rollups=rollups,
    )


def run(con: duckdb.DuckDBPyConnection, spec: AudienceSpec) -> dict[str, str]:
    return dict(con.execute(compiler(con).sql(spec)).fetchall())


# ---------------------------------------------------------------------------------------------- strategies

# The rollup's windows (7, 30, 90, 180, 365) and others around them, which only the subqueries answer.
days = st.sampled_from([0, 1, 3, 7, 8, 30, 31, 90, 180, 365])
texts = st.sampled_from([v for v in (*COUNTRIES, *NAMES) if v is not None] + ["o", "AN", "'", "%", "_", ""])
dates = st.sampled_from([dt.date(1984, 6, 15), dt.date(1990, 1, 1), "2000-03-01", dt.date(1992, 2, 29)])
stamps = st.sampled_from([AS_OF - dt.timedelta(days=30), dt.date(2026, 1, 1), "2026-06-14 12:00:00"])
numbers = st.sampled_from([0, 1, 2, 3, 50, 100.0, 250, 499])


def attribute_conditions() -> st.SearchStrategy[dict[str, Any]]:
    string_col = st.sampled_from(["country_code", "first_name", "email"])
    return st.one_of(
        st.builds(
            lambda c, op, v: {c: {op: v}},
            string_col,
            st.sampled_from(["eq", "ne", "contains", "not_contains", "starts_with"]),
            texts,
        ),
        st.builds(
            lambda c, op, vs: {c: {op: vs}},
            string_col,
            st.sampled_from(["in", "not_in"]),
            st.lists(texts, min_size=1, max_size=3),
        ),
        st.builds(
            lambda c, op: {c: {op: True}},
            st.sampled_from(["country_code", "lifetime_value", "birth_date"]),
            st.sampled_from(["is_empty", "is_not_empty"]),
        ),
        st.builds(
            lambda c, op, v: {c: {op: v}},
            st.sampled_from(["lifetime_value", "order_count"]),
            st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]),
            numbers,
        ),
        st.builds(
            lambda c, a, b: {c: {"between": [min(a, b), max(a, b)]}},
            st.sampled_from(["lifetime_value", "order_count"]),
            numbers,
            numbers,
        ),
        st.builds(lambda v: {"is_email_reachable": {"eq": v}}, st.booleans()),
        st.builds(
            lambda op, v: {"birth_date": {op: v}}, st.sampled_from(["lt", "gte", "before", "after", "eq"]), dates
        ),
        st.builds(lambda n: {"birth_date": {"birthday_within_days": n}}, days),
        st.builds(
            lambda op, n: {"last_order_at": {op: n}}, st.sampled_from(["in_last_days", "not_in_last_days"]), days
        ),
        st.builds(lambda op, v: {"last_order_at": {op: v}}, st.sampled_from(["before", "after", "lte"]), stamps),
    )


def related_conditions() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(
            lambda w, op, n, completed: {
                "orders": {
                    "within_days": w,
                    "count": {op: n},
                    **({"where": {"is_completed": {"eq": True}}} if completed else {}),
                }
            },
            days,
            st.sampled_from(["gte", "lt", "eq", "lte"]),
            st.sampled_from([0, 1, 2]),
            st.booleans(),
        ),
        st.builds(
            lambda w, op, n, completed: {
                "orders": {
                    "within_days": w,
                    "sum": {"column": "total_amount_eur", op: n},
                    **({"where": {"is_completed": True}} if completed else {}),
                }
            },
            days,
            st.sampled_from(["gte", "lt", "eq", "ne"]),
            st.sampled_from([0, 50, 150]),
            st.booleans(),
        ),
        st.builds(
            lambda m, op, n: {"orders": {m: {"column": "total_amount_eur", op: n}}},
            st.sampled_from(["min", "max"]),
            st.sampled_from(["gte", "lt"]),
            st.sampled_from([20, 100]),
        ),
        st.builds(
            lambda t, n, w, neg: {"events": {"type": t, "at_least": n, "within_days": w, "did_not": neg}},
            st.sampled_from(EVENT_TYPES),
            st.sampled_from([1, 2, 3]),
            days,
            st.booleans(),
        ),
        st.builds(
            lambda w, op, n: {"events": {"within_days": w, "count": {op: n}}},
            days,
            st.sampled_from(["gte", "lt", "eq"]),
            st.sampled_from([0, 1, 3]),
        ),
        st.builds(
            lambda t, c: {"events": {"type": t, "where": {"category": {"eq": c}}}},
            st.sampled_from(EVENT_TYPES),
            st.sampled_from(["shoes", "bags"]),
        ),
        st.builds(
            lambda a, ch, w: {"messages": {"action": a, "channel": ch, "within_days": w}},
            st.sampled_from(["received", "opened", "clicked"]),
            st.sampled_from(["email", "sms"]),
            days,
        ),
        st.builds(
            lambda ch, t: {"consent": {"channel": ch, **({"topic": t} if t else {})}},
            st.sampled_from(["email", "sms"]),
            st.sampled_from(["newsletter", "promotions", None]),
        ),
        st.builds(lambda ch: {"reachable": ch}, st.sampled_from(["email", "sms"])),
        st.builds(
            lambda n, g: {"in_audience": {"name": n, **({"groups": g} if n == "buyers_split" else {})}},
            st.sampled_from(sorted(SAVED)),
            st.sampled_from([["A"], ["B", "C"]]),
        ),
    )


leaves = st.one_of(attribute_conditions(), related_conditions())
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    ),
    max_leaves=6,
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "random_audience"}
    if draw(st.integers(0, 5)) > 0:
        spec["where"] = draw(conditions)
    if draw(st.integers(0, 4)) == 0:
        spec[draw(st.sampled_from(["union", "intersection", "exclude"]))] = draw(
            st.lists(st.sampled_from(sorted(SAVED)), min_size=1, max_size=2, unique=True)
        )
    limit = draw(st.integers(0, 3))
    if limit == 1:
        spec["limit"] = {"count": draw(st.integers(1, 30))}
    elif limit == 2:
        spec["limit"] = {
            "count": draw(st.integers(1, 30)),
            "order_by": draw(st.sampled_from(["lifetime_value", "order_count", "birth_date"])),
            "descending": draw(st.booleans()),
        }
    if draw(st.booleans()):
        spec["split"] = {
            "groups": [{"name": "A", "percent": 45}, {"name": "B", "percent": 45}, {"name": "control", "percent": 10}],
            "salt": draw(st.sampled_from(["x", "ü's"])),
        }
    return spec


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=specs())
def test_random_specs_select_what_the_reference_selects(con: duckdb.DuckDBPyConnection, raw: dict[str, Any]) -> None:
    spec = parse_spec(raw)
    expected = Reference(DATA, resolve).members(spec)
    assert run(con, spec) == expected, raw


def test_the_dataset_exercises_every_kind_of_condition(con: duckdb.DuckDBPyConnection) -> None:
    # A reference that matched nothing or everything would agree with any compiler: check the spread.
    reference = Reference(DATA, resolve)
    for raw in [
        {"country_code": {"ne": "FR"}},
        {"birth_date": {"birthday_within_days": 7}},
        {"orders": {"within_days": 30, "count": {"lt": 1}}},
        {"events": {"type": "product_view", "at_least": 2, "within_days": 7}},
        {"consent": {"channel": "email", "topic": "newsletter"}},
        {"last_order_at": {"in_last_days": 30}},
        {"first_name": {"contains": "an"}},
    ]:
        spec = parse_spec({"name": "probe", "where": raw})
        members = reference.members(spec)
        assert 0 < len(members) < len(DATA.tables["profiles"]), raw
        assert run(con, spec) == members, raw


def test_window_conditions_are_answered_from_the_rollup_exactly_when_it_holds_them(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """The random specs above run both forms: the rollup's windows, types and topics, and others it lacks."""
    assert set(ROLLUP_EVENT_TYPES) < set(EVENT_TYPES)
    answered = [
        {"events": {"type": "product_view", "at_least": 2, "within_days": 7}},
        {"events": {"type": "page_view", "did_not": True, "within_days": 365}},
        {"events": {"within_days": 30, "count": {"gte": 3}}},
        {"orders": {"within_days": 180, "sum": {"column": "total_amount_eur", "gte": 50}}},
        {"orders": {"within_days": 90, "where": {"is_completed": True}, "count": {"lt": 1}}},
        {"consent": {"channel": "email", "topic": "newsletter"}},
        {"consent": "sms"},
    ]
    not_answered = [
        {"events": {"type": "product_view", "at_least": 2, "within_days": 8}},  # not a rollup window
        {"events": {"type": "add_to_cart", "within_days": 7}},  # not a rollup type
        {"events": {"type": "product_view", "within_days": 7, "where": {"category": "shoes"}}},
        {"events": {"type": "product_view", "at_least": 2}},  # no window: all time
        {"orders": {"within_days": 180, "max": {"column": "total_amount_eur", "gte": 50}}},
        {"orders": {"within_days": 180, "where": {"is_completed": False}, "count": {"gte": 1}}},
        {"orders": {"within_days": 30, "time_column": "ordered_at", "count": {"gte": 1}, "where": {"order_id": "x"}}},
        {"consent": {"channel": "email", "topic": "promotions"}},  # not a rollup topic
    ]
    for raw in answered + not_answered:
        spec = parse_spec({"name": "probe", "where": raw})
        sql = compiler(con).sql(spec)
        assert ("profile_rollups" in sql) == (raw in answered), raw
        assert "profile_rollups" not in compiler(con, rollups=False).sql(spec), raw
    assert {w for w in ROLLUP_DAYS} <= {0, 1, 3, 7, 8, 30, 31, 90, 180, 365}


@pytest.mark.parametrize("within_days", ROLLUP_DAYS)
def test_each_rollup_window_selects_what_the_subquery_selects(con: duckdb.DuckDBPyConnection, within_days: int) -> None:
    # The dataset puts events and orders exactly at window starts (7 and 30 days back) and at as_of.
    for raw in [
        {"events": {"type": "product_view", "within_days": within_days}},
        {"events": {"within_days": within_days, "count": {"eq": 2}}},
        {"not": {"orders": {"within_days": within_days, "where": {"is_completed": True}, "count": {"gte": 2}}}},
        {"orders": {"within_days": within_days, "sum": {"column": "total_amount_eur", "lte": 100}}},
        {"any": [{"consent": "email"}, {"not": {"consent": {"channel": "sms", "topic": "newsletter"}}}]},
    ]:
        spec = parse_spec({"name": "probe", "where": raw})
        rollup = dict(con.execute(compiler(con).sql(spec)).fetchall())
        subquery = dict(con.execute(compiler(con, rollups=False).sql(spec)).fetchall())
        assert rollup == subquery == Reference(DATA, resolve).members(spec), raw
