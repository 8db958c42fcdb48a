"""Free text in audience specs reaches dbt as text: never as Jinja, never as broken YAML (property tests).

dbt is imitated here with its own functions (its YAML loader and its Jinja renderer), so thousands of hostile
texts are checked in seconds; test_hostile_text_build.py checks a few of them with real dbt builds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.clients.jinja import get_rendered
from dbt.clients.yaml_helper import load_yaml_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from herald.audiences.compiler import Compiler, timestamp_literal
from herald.audiences.library import AudienceLibrary
from herald.audiences.models import dbt_compiler, generate, model_name, render_for_dbt, spec_version
from herald.audiences.schema import from_warehouse
from herald.audiences.spec import AudienceSpec, parse_spec
from herald.errors import AudienceNotFound, AudienceSpecError
from herald.project import Project
from herald.safe_text import jinja_inert, yaml_for_dbt
from tests.audiences.reference import AS_OF, make_dataset
from tests.conftest import make_scratch_project
from tests.hostile_text import CANARY_VALUE, KNOWN_BAD, hostile_text

# A reading of the environment would fail loudly here instead of leaking a value.
_NO_ENV = {"env_var": lambda *args: pytest.fail(f"env_var{args} was rendered")}
_MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def expected_description(spec: AudienceSpec) -> str:
    described = spec.description if spec.description.strip() else f"Members of audience {spec.name}."
    return (
        f"{described}\n\nGrain: one row per member profile. Key: profile_id. "
        f"Generated from specs/audiences/{spec.name}.yml (version {spec_version(spec)})."
    )


def dbt_renders(text: str) -> str:
    """What dbt makes of a string of a YAML file: descriptions are rendered as text (when they hold a Jinja
    delimiter), config and meta values always, as native values. Both must give the same."""
    as_text = get_rendered(text, dict(_NO_ENV))
    assert get_rendered(text, dict(_NO_ENV), native=True) == as_text
    assert isinstance(as_text, str)
    return as_text


def dbt_reads(yaml_text: str) -> Any:
    """What dbt makes of a generated YAML file: its YAML loader, then its Jinja on every string."""

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return dbt_renders(value)
        if isinstance(value, dict):
            return {render(k): render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v) for v in value]
        return value

    return render(load_yaml_text(yaml_text))


@_MANY
@example("{{ env_var('HOME') }}")
@example("VIP {% if true %}only{% endif %}")
@given(hostile_text)
def test_inert_text_renders_back_exactly_in_dbts_jinja(text: str) -> None:
    assert dbt_renders(jinja_inert(text)) == text


@_MANY
@given(st.dictionaries(hostile_text, hostile_text | st.lists(hostile_text, max_size=3), max_size=4))
def test_generated_yaml_gives_dbt_every_string_back(doc: dict[str, Any]) -> None:
    assert dbt_reads(yaml_for_dbt({"doc": doc})) == {"doc": doc}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_scratch_project(tmp_path_factory.mktemp("hostile-yaml"))


_names = (f"hostile_{i}" for i in itertools.count())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(list(KNOWN_BAD))
@given(st.lists(hostile_text, min_size=1, max_size=4))
def test_every_free_text_field_of_an_audience_reaches_dbt_verbatim(scratch: Project, texts: list[str]) -> None:
    library = AudienceLibrary.of(scratch)
    specs = []
    for i, text in enumerate(texts):
        spec = parse_spec(
            {
                "name": next(_names),
                "description": text,
                "owner": texts[(i + 1) % len(texts)],
                "where": {"first_name": {"in": [texts[(i + 2) % len(texts)], "x"]}},
                "split": {"groups": {"a": 50, "b": 50}, "salt": texts[(i + 3) % len(texts)]},
            }
        )
        library.save(spec)
        assert library.get(spec.name) == spec  # the spec file keeps every text as written
        specs.append(spec)
    try:
        files = {f.path.name: f.text for f in generate(scratch)}
        read = dbt_reads(files["_audiences__models.yml"])
        by_name = {m["name"]: m for m in read["models"]}
        for spec in specs:
            model = by_name[model_name(spec.name)]
            assert model["description"] == expected_description(spec)
            assert model["config"]["meta"].get("owner", "") == spec.owner
        assert CANARY_VALUE not in "".join(files.values())
    finally:
        for spec in specs:
            library.path(spec.name).unlink()


# ------------------------------------------------------------------------------------ values in the model SQL


def _no_saved(name: str) -> AudienceSpec:
    raise AudienceNotFound(f"no audience {name!r}")


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    make_dataset().load(con)
    yield con
    con.close()


@_MANY
@example("carriage\r\nreturn\r")
@example("{% raw %}{% endraw %}{{")
@given(hostile_text)
def test_a_hostile_value_selects_exactly_its_profile_after_dbts_jinja(
    con: duckdb.DuckDBPyConnection, text: str
) -> None:
    con.execute("insert into profiles (profile_id, first_name) values ('HOSTILE', ?)", [text])
    try:
        spec = parse_spec({"name": "hostile", "where": {"first_name": {"eq": text}}})
        query = dbt_compiler(from_warehouse(con), AudienceLibrary(Path("/nonexistent"))).query(spec)
        sql = get_rendered(
            render_for_dbt(query, "duckdb"),
            {**_NO_ENV, "ref": lambda name: name, "as_of": lambda: timestamp_literal(AS_OF).sql("duckdb")},
        )
        found = {r[0] for r in con.execute(sql).fetchall()}
        direct = Compiler(schema=from_warehouse(con), resolve=_no_saved, as_of=timestamp_literal(AS_OF)).sql(spec)
        assert found == {r[0] for r in con.execute(direct).fetchall()}
        assert "HOSTILE" in found
    finally:
        con.execute("delete from profiles where profile_id = 'HOSTILE'")


# ------------------------------------------------------------------------------------ what no file can hold


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"description": "a\x00b"}, r"description: text cannot contain a NUL character"),
        ({"owner": "a\ud800b"}, r"owner: text cannot contain the lone surrogate '\\ud800'"),
        ({"salt": "x" * 10_001}, r"salt: expected at most 10,000 characters, got 10,001"),
        ({"description": 12}, r"description: expected text, got 12"),
        ({"where": {"first_name": {"eq": "a\udfffb"}}}, r"condition where\.first_name: text cannot contain"),
    ],
)
def test_text_no_file_can_hold_is_refused_naming_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(AudienceSpecError, match=message):
        parse_spec({"name": "a", **raw})


def test_a_surrogate_escape_in_a_spec_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    # YAML's "\uD800" escape gives Python a lone surrogate, which no UTF-8 file can hold: the old code crashed
    # writing the generated model.
    path = tmp_path / "a.yml"
    path.write_text('name: a\nwhere:\n  first_name: "x\\uD800"\n', encoding="utf-8")
    with pytest.raises(AudienceSpecError, match=rf"^{path}: condition where\.first_name: text cannot contain"):
        AudienceLibrary(tmp_path).get("a")
