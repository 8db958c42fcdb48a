"""Invalid specs fail with a message that names the condition at fault and says why; nothing reaches SQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from herald.audiences.compiler import Compiler, timestamp_literal
from herald.audiences.library import AudienceLibrary
from herald.audiences.schema import from_warehouse
from herald.audiences.spec import AudienceSpec, dump_spec, load_spec, parse_spec
from herald.errors import AudienceNotFound, AudienceSpecError
from tests.audiences.reference import AS_OF, make_dataset


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    make_dataset().load(con)
    yield con
    con.close()


def compile_(con: duckdb.DuckDBPyConnection, raw: dict[str, Any], saved: dict[str, AudienceSpec] | None = None) -> str:
    saved = saved or {}

    def resolve(name: str) -> AudienceSpec:
        if name not in saved:
            raise AudienceNotFound(f"no audience {name!r}")
        return saved[name]

    compiler = Compiler(schema=from_warehouse(con), resolve=resolve, as_of=timestamp_literal(AS_OF))
    return compiler.sql(parse_spec(raw))


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            {"all": [{"country_code": "FR"}, {"countryy": "FR"}]},
            r"where\.all\[1\]\.countryy: unknown column 'countryy' in profiles; did you mean country_code",
        ),
        (
            {"lifetime_value": {"contains": "x"}},
            r"where\.lifetime_value: operator 'contains' does not apply to lifetime_value \(number\)",
        ),
        (
            {"lifetime_value": {"gt": "lots"}},
            r"where\.lifetime_value: lifetime_value is number; 'lots' is not a number",
        ),
        ({"country_code": {"eq": 33}}, r"country_code is string; 33 is not text \(quote it"),
        ({"birth_date": {"before": "last tuesday"}}, r"birth_date is date; 'last tuesday' is not a date"),
        ({"order_count": {"eq": 1.5}}, r"order_count is integer; 1.5 is not a whole number"),
        ({"is_email_reachable": {"eq": "yes"}}, r"is_email_reachable is boolean; 'yes' is not true or false"),
        (
            {"any": [{"not": {"orders": {"sum": {"column": "order_id", "gt": 1}}}}]},
            r"where\.any\[0\]\.not\.orders: sum needs a numeric column; order_id is string",
        ),
        (
            {"events": {"where": {"colour": "red"}}},
            r"where\.events\.where\.colour: unknown column 'colour' in profile_events",
        ),
        ({"in_audience": "nobody"}, r"where\.in_audience: no audience 'nobody'"),
        (
            {"orders": {"within_days": 30, "time_column": "order_id", "count": {"gte": 1}}},
            r"time_column 'order_id' is not a date or time",
        ),
    ],
)
def test_compile_errors_name_the_condition(con: duckdb.DuckDBPyConnection, where: Any, message: str) -> None:
    with pytest.raises(AudienceSpecError, match=message):
        compile_(con, {"name": "a", "where": where})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "a", "where": {"all": []}}, r"where\.all: `all` needs a non-empty list"),
        (
            {"name": "a", "where": {"any": [{"country_code": {"eq": "FR", "ne": "DE"}}]}},
            r"where\.any\[0\]\.country_code: give exactly one operator",
        ),
        ({"name": "a", "where": {"country_code": {"like": "F%"}}}, r"unknown operator 'like'"),
        ({"name": "a", "where": {"country_code": "FR", "email": "x"}}, r"condition where: .*exactly one key"),
        ({"name": "a", "where": {"country_code": {"in": []}}}, r"`in` needs a non-empty list"),
        ({"name": "a", "where": {"first_name": {"eq": "a\x00b"}}}, r"NUL character"),
        ({"name": "a", "where": {"country_code": {"eq": None}}}, r"cannot be null; use is_empty"),
        (
            {"name": "a", "where": {"orders": {"count": {"gte": 1}, "sum": {"column": "x", "gt": 1}}}},
            r"give one measure",
        ),
        (
            {"name": "a", "where": {"events": {"where": {"orders": {"count": {"gte": 1}}}}}},
            r"cannot be used inside a related-data condition",
        ),
        ({"name": "a", "where": {"reachable": "fax"}}, r"`reachable` takes one channel"),
        ({"name": "a", "where": {"last_order_at": {"in_last_days": -3}}}, r"whole number of days"),
        ({"name": "a", "split": {"groups": {"A": 50, "B": 40}}}, r"add up to 90, not 100"),
        ({"name": "a", "split": {"groups": {"A": 100}}}, r"at least two groups"),
        ({"name": "a", "limit": {"count": 0}}, r"limit\.count: expected a whole number from 1 to 1,000,000,000, got 0"),
        ({"name": "Robert'); DROP TABLE profiles;--"}, r"`name` must be lower-case letters"),
        ({"name": "a", "union": ["a"]}, r"refers to itself"),
        ({"name": "a", "colour": "red"}, r"unknown key\(s\) colour"),
    ],
)
def test_parse_errors_name_the_spot(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(AudienceSpecError, match=message):
        parse_spec(raw)


def test_a_cycle_between_audiences_is_named(con: duckdb.DuckDBPyConnection) -> None:
    saved = {
        "a": parse_spec({"name": "a", "where": {"in_audience": "b"}}),
        "b": parse_spec({"name": "b", "exclude": ["c"]}),
        "c": parse_spec({"name": "c", "where": {"any": [{"country_code": "FR"}, {"in_audience": "a"}]}}),
    }
    with pytest.raises(AudienceSpecError, match=r"cycle between audiences: a → b → c → a"):
        compile_(con, {"name": "a", "where": {"in_audience": "b"}}, saved)


def test_an_unknown_group_of_another_audience_is_named(con: duckdb.DuckDBPyConnection) -> None:
    saved = {"s": parse_spec({"name": "s", "split": {"groups": {"A": 50, "B": 50}}})}
    with pytest.raises(AudienceSpecError, match=r"audience 's' has no group C; its groups are A, B"):
        compile_(con, {"name": "a", "where": {"in_audience": {"name": "s", "groups": ["C"]}}}, saved)


def test_limit_order_by_must_be_a_profile_column(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(AudienceSpecError, match=r"limit\.order_by: unknown column 'ltv'"):
        compile_(con, {"name": "a", "limit": {"count": 3, "order_by": "ltv"}})


def test_canonical_yaml_round_trips(tmp_path: Path) -> None:
    raw = {
        "name": "round_trip",
        "description": "Événement: l'été",
        "where": {
            "all": [
                {"country_code": {"in": ["FR", "BE"]}},
                {"events": {"type": "product_view", "at_least": 2, "within_days": 30}},
                {"messages": {"action": "opened", "channel": "email", "within_days": 7}},
                {"not": {"consent": {"channel": "sms", "topic": "promotions"}}},
                {"birth_date": {"between": ["1980-01-01", "1990-12-31"]}},
                {"email": {"is_not_empty": True}},
            ]
        },
        "exclude": ["staff"],
        "limit": {"count": 100, "order_by": "lifetime_value", "descending": True},
        "split": {"groups": {"A": 50, "B": 50}, "salt": "s"},
    }
    spec = parse_spec(raw)
    path = tmp_path / "round_trip.yml"
    path.write_text(dump_spec(spec), encoding="utf-8")
    assert load_spec(path) == spec


def test_the_file_name_must_match_the_name(tmp_path: Path) -> None:
    path = tmp_path / "other.yml"
    path.write_text("name: this_one\n", encoding="utf-8")
    with pytest.raises(AudienceSpecError, match=r"name 'this_one' differs from the file name 'other'"):
        load_spec(path)


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("name: broken\nwhere: {country_code: [\n", encoding="utf-8")
    with pytest.raises(AudienceSpecError, match=r"broken\.yml: not valid YAML"):
        load_spec(path)


def test_library_suggests_close_names(tmp_path: Path) -> None:
    library = AudienceLibrary(tmp_path)
    library.save(parse_spec({"name": "vip_customers"}))
    with pytest.raises(AudienceNotFound, match=r"Did you mean vip_customers"):
        library.get("vip_customer")
    with pytest.raises(AudienceNotFound, match=r"not an audience name"):
        library.get("../../etc/passwd")
