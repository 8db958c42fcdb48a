"""Hostile values are matched literally (or rejected with a clear error) and never run as SQL or Jinja."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dbt.clients.jinja import get_rendered
from sqlglot import exp

from herald.audiences.compiler import Compiler, timestamp_literal
from herald.audiences.library import AudienceLibrary
from herald.audiences.models import dbt_compiler, render_for_dbt
from herald.audiences.schema import from_warehouse
from herald.audiences.spec import AudienceSpec, parse_spec
from herald.errors import AudienceNotFound, AudienceSpecError
from tests.audiences.reference import AS_OF, make_dataset

HOSTILE = [
    "O'Brien",
    "x'; DROP TABLE profiles; --",
    "' OR '1'='1",
    "a -- comment",
    "/* block */",
    "back\\slash\\",
    "\\'; select 1; --",
    '"double" quotes',
    "%_wild%",
    "Zoë ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "{{ run_query('drop table profiles') }}",
    "{% do log('x') %}{# c #}",
    "__herald_ref_profiles__",
    "line\nbreak\ttab",
    "carriage\r\nreturn\r",
    "{% raw %}{% endraw %}{{",
    "",
]
# What herald.safe_text writes for a character Jinja must not read as syntax.
_PRINTS = {"{{ '{' }}", "{{ '\\r' }}", "{{ '\\n' }}"}


def _no_saved(name: str) -> AudienceSpec:
    raise AudienceNotFound(f"no audience {name!r}")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    make_dataset().load(con)
    # One profile per hostile value, so an exact match must find exactly that one.
    for i, value in enumerate(HOSTILE):
        con.execute("insert into profiles (profile_id, first_name) values (?, ?)", [f"H{i:02d}", value])
    yield con
    con.close()


def members(con: duckdb.DuckDBPyConnection, where: object) -> list[str]:
    compiler = Compiler(schema=from_warehouse(con), resolve=_no_saved, as_of=timestamp_literal(AS_OF))
    sql = compiler.sql(parse_spec({"name": "hostile", "where": where}))
    return sorted(r[0] for r in con.execute(sql).fetchall())


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_match_literally(con: duckdb.DuckDBPyConnection, value: str) -> None:
    expected = sorted(
        r[0] for r in con.execute("select profile_id from profiles where first_name = ?", [value]).fetchall()
    )
    assert f"H{HOSTILE.index(value):02d}" in expected
    assert members(con, {"first_name": {"eq": value}}) == expected
    assert members(con, {"first_name": {"in": [value, "no one"]}}) == expected
    contains = sorted(
        r[0]
        for r in con.execute(
            "select profile_id from profiles where strpos(lower(first_name), lower(?)) > 0", [value]
        ).fetchall()
    )
    assert members(con, {"first_name": {"contains": value}}) == contains
    # The tables are all still there.
    assert con.execute("select count(*) from profiles").fetchone()[0] > len(HOSTILE)


@pytest.mark.parametrize(
    "column",
    ["profiles; drop table profiles", "first_name --", "first_name)", '"first_name"', "p.first_name", "FIRST_NAME"],
)
def test_names_outside_the_schema_are_rejected(con: duckdb.DuckDBPyConnection, column: str) -> None:
    with pytest.raises(AudienceSpecError, match="unknown column"):
        members(con, {column: {"eq": "x"}})


def test_nul_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(AudienceSpecError, match=r"where\.first_name: a value cannot contain a NUL character"):
        parse_spec({"name": "n", "where": {"first_name": {"eq": "a\x00"}}})


@pytest.mark.parametrize("value", HOSTILE)
def test_values_in_generated_models_cannot_open_jinja(con: duckdb.DuckDBPyConnection, value: str) -> None:
    spec = parse_spec({"name": "hostile", "where": {"first_name": {"eq": value}}})
    query = dbt_compiler(from_warehouse(con), AudienceLibrary(Path("/nonexistent"))).query(spec)
    text = render_for_dbt(query, "duckdb")
    # The only Jinja left is ours: refs, the reference time, and expressions that print one character.
    assert set(re.findall(r"\{\{.*?\}\}", text)) <= {"{{ ref('profiles') }}", "{{ as_of() }}", *_PRINTS}
    assert "{%" not in text and "{#" not in text
    # Rendered by dbt's own Jinja (only ref and as_of defined), the SQL selects exactly the profile holding the value.
    sql = get_rendered(text, {"ref": lambda name: name, "as_of": lambda: "current_timestamp"})
    expected = [f"H{HOSTILE.index(value):02d}"]
    assert sorted(r[0] for r in con.execute(sql).fetchall() if r[0].startswith("H")) == expected


def test_literal_nodes_are_the_only_place_values_go(con: duckdb.DuckDBPyConnection) -> None:
    # Structural check: every user value is a Literal node of the tree, never an identifier or raw SQL.
    spec = parse_spec({"name": "h", "where": {"any": [{"first_name": {"eq": v}} for v in HOSTILE]}})
    compiler = Compiler(schema=from_warehouse(con), resolve=_no_saved, as_of=timestamp_literal(AS_OF))
    tree = compiler.query(spec)
    literals = {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
    identifiers = {i.this for i in tree.find_all(exp.Identifier)}
    assert set(HOSTILE) <= literals
    assert not set(HOSTILE) & identifiers
