"""The Audiences page, run headlessly with AppTest against a published warehouse.

Every count the page shows is checked against a DuckDB query written here by hand on the published file, not
against the compiler the page uses. Tests that save use a scratch copy of the project (saving writes the spec
and the generated models under the project root).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Error

from herald import clock
from herald.audiences.jobs import AudienceJob, job_path, read_job, write_job
from herald.audiences.library import AudienceLibrary
from herald.audiences.service import list_audiences
from herald.audiences.spec import dump_spec, load_spec, parse_spec
from herald.project import Project

APP = Path(__file__).resolve().parents[2] / "app"
ROUTER = str(APP / "streamlit_app.py")
PAGE = str(APP / "views" / "audiences.py")
# An audience-only build takes about 30 s; it becomes a full build (about 90 s on two busy cores) when the
# project's dbt files changed since the session's demo build.
BUILD_WAIT_SECONDS = 150
HOSTILE = [
    "'; drop table profiles; --",
    "' or '1'='1",
    '") or 1=1 --',
    "--",
    "a\\'b\\",
    "\\",
    "%_%",
    "{{ 7 * 7 }}",
    "Zoë ☃ 東京 \u200b",
]

pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
]


# ---------------------------------------------------------------------------------------------- helpers


def _page() -> AppTest:
    at = AppTest.from_file(ROUTER, default_timeout=60)
    at.switch_page(PAGE)
    return _run(at)


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def _members(at: AppTest) -> int | None:
    value = next(m.value for m in at.metric if m.label == "Members")
    return None if value == "—" else int(value.replace(",", ""))


def _add(at: AppTest, kind: str, parent: str = "top") -> AppTest:
    at.button(key=f"aud.add.{parent}.{kind}").click()
    return _run(at)


def _unescape(text: str) -> str:
    """Markdown text as the user reads it (``plain()`` backslash-escapes punctuation)."""
    return re.sub(r"\\(.)", r"\1", text)


def _errors(at: AppTest) -> list[str]:
    return [_unescape(e.value) for e in at.error]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _keys_next_to(at: AppTest, message: str) -> set[str]:
    """Widget keys in the smallest block holding the error that contains ``message``: where it is shown."""
    best: tuple[int, set[str]] | None = None
    for block in _walk(at.main):
        if not isinstance(block, Block):
            continue
        nodes = list(_walk(block))
        if any(isinstance(n, Error) and message in _unescape(n.value) for n in nodes):
            keys = {str(n.key) for n in nodes if getattr(n, "key", None)}
            if best is None or len(nodes) < best[0]:
                best = (len(nodes), keys)
    assert best is not None, f"no error containing {message!r}; errors: {_errors(at)}"
    return best[1]


def _spec_yaml(at: AppTest) -> str:
    """The page's YAML view, with the final newline the code element drops."""
    return next(c.value for c in at.code if c.language == "yaml").rstrip("\n") + "\n"


def _as_of(wh) -> dt.datetime:  # type: ignore[no-untyped-def]
    value: dt.datetime = wh.value("select coalesce(as_of, published_at) from herald_meta.build_info")
    return value


def _attribute(at: AppTest, row: str, column: str, op: str) -> AppTest:
    """Add a profile-attribute row (``row`` is the id it gets) and pick its column and operator."""
    _add(at, "attribute")
    at.selectbox(key=f"aud.{row}.column").set_value(column)
    _run(at)
    at.selectbox(key=f"aud.{row}.op").set_value(op)
    return _run(at)


# ---------------------------------------------------------------------------------------------- counting


def test_the_page_renders_and_counts_every_profile_without_conditions(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    assert [t.value for t in at.title] == ["Audiences"]
    assert _members(at) == app_env.value("select count(*) from profiles")
    assert set(at.selectbox(key="aud_pick").options) >= {"New audience", "recent_buyers", "winter_sale_test"}
    assert not at.error


def test_each_condition_changes_the_count_to_the_sql_figure(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "country_code", "eq")
    # A new condition counts only once it has a value.
    assert _members(at) == app_env.value("select count(*) from profiles")
    at.selectbox(key="aud.c1.value.choice").set_value("FR")
    assert _members(_run(at)) == app_env.value("select count(*) from profiles where country_code = 'FR'")

    _attribute(at, "c2", "engagement_score", "gte")
    at.number_input(key="aud.c2.value.int").set_value(50)
    expected = app_env.value("select count(*) from profiles where country_code = 'FR' and engagement_score >= 50")
    assert _members(_run(at)) == expected

    at.selectbox(key="aud.match").set_value("any")
    expected = app_env.value(
        "select count(*) from profiles"
        " where coalesce(country_code = 'FR', false) or coalesce(engagement_score >= 50, false)"
    )
    assert _members(_run(at)) == expected

    at.checkbox(key="aud.c1.not").check()
    expected = app_env.value(
        "select count(*) from profiles"
        " where not coalesce(country_code = 'FR', false) or coalesce(engagement_score >= 50, false)"
    )
    assert _members(_run(at)) == expected


def test_the_draft_survives_a_visit_to_another_page(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "country_code", "eq")
    at.selectbox(key="aud.c1.value.choice").set_value("FR")
    at.text_input(key="aud.name").input("french")
    _run(at)
    at.switch_page(str(APP / "views" / "profiles.py"))
    assert [t.value for t in _run(at).title] == ["Profiles"]
    at.switch_page(PAGE)
    _run(at)
    assert at.selectbox(key="aud.c1.value.choice").value == "FR"
    assert at.text_input(key="aud.name").value == "french"
    assert _members(at) == app_env.value("select count(*) from profiles where country_code = 'FR'")


def test_a_nested_negated_group_counts_like_sql(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "country_code", "in")
    at.multiselect(key="aud.c1.value.choices").set_value(["FR", "DE"])
    _add(_run(at), "group")  # c2
    _add(at, "reachable", parent="c2")  # c3
    at.selectbox(key="aud.c3.channel").set_value("sms")
    _add(_run(at), "attribute", parent="c2")  # c4
    at.selectbox(key="aud.c4.column").set_value("engagement_score")
    _run(at)
    at.selectbox(key="aud.c4.op").set_value("gte")
    _run(at)
    at.number_input(key="aud.c4.value.int").set_value(60)
    at.checkbox(key="aud.c2.not").check()
    _run(at)
    expected = app_env.value(
        "select count(*) from profiles where country_code in ('FR', 'DE') and not ("
        " coalesce(is_sms_reachable, false) or coalesce(engagement_score >= 60, false))"
    )
    assert _members(at) == expected
    spec = parse_spec(yaml.safe_load(_spec_yaml(at)))
    assert dump_spec(spec) == _spec_yaml(at)
    assert yaml.safe_load(_spec_yaml(at))["where"] == {
        "all": [
            {"country_code": {"in": ["FR", "DE"]}},
            {"not": {"any": [{"reachable": "sms"}, {"engagement_score": {"gte": 60}}]}},
        ]
    }


def test_dates_days_ranges_and_flags_count_like_sql(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "birth_date", "before")
    at.date_input(key="aud.c1.value.date").set_value(dt.date(1990, 1, 1))
    _attribute(_run(at), "c2", "last_order_at", "in_last_days")
    at.number_input(key="aud.c2.value.days").set_value(400)
    _attribute(_run(at), "c3", "lifetime_value", "between")
    at.number_input(key="aud.c3.value.float_range.from").set_value(50.0)
    at.number_input(key="aud.c3.value.float_range.to").set_value(2000.0)
    _attribute(_run(at), "c4", "is_email_valid", "eq")
    at.toggle(key="aud.c4.value.bool").set_value(False)
    _run(at)
    sql = (
        "select count(*) from profiles where birth_date < date '1990-01-01'"
        " and last_order_at >= ? - interval 400 day and last_order_at <= ?"
        " and lifetime_value between 50 and 2000 and is_email_valid = false"
    )
    assert _members(at) == app_env.value(sql, [_as_of(app_env)] * 2), _spec_yaml(at)
    where = yaml.safe_load(_spec_yaml(at))["where"]["all"]
    assert where[2] == {"lifetime_value": {"between": [50, 2000]}} and where[3] == {"is_email_valid": {"eq": False}}


def _window(column: str, days: int) -> str:
    return f"{column} >= $as_of - interval {days} day and {column} <= $as_of"


RELATED = {
    "orders_count": (
        "orders",
        {"aud.c1.amount.int": 2, "aud.c1.within": 365},
        "(select count(*) from orders o where o.profile_id = p.profile_id and "
        + _window("o.ordered_at", 365)
        + ") >= 2",
    ),
    "orders_sum_completed": (
        "orders",
        {"aud.c1.measure": "sum", "aud.c1.compare": "gt", "aud.c1.amount.float": 500.0, "aud.c1.completed": True},
        "coalesce((select sum(total_amount_eur) from orders o where o.profile_id = p.profile_id"
        " and o.is_completed), 0) > 500",
    ),
    "events_at_least": (
        "events",
        {"aud.c1.type": "product_view", "aud.c1.at_least": 3, "aud.c1.within": 30},
        "(select count(*) from profile_events e where e.profile_id = p.profile_id"
        " and e.event_type = 'product_view' and " + _window("e.occurred_at", 30) + ") >= 3",
    ),
    "events_did_not": (
        "events",
        {"aud.c1.did": True, "aud.c1.type": "search"},
        "not exists (select 1 from profile_events e where e.profile_id = p.profile_id and e.event_type = 'search')",
    ),
    "messages_opened": (
        "messages",
        {"aud.c1.action": "opened", "aud.c1.channel": "email", "aud.c1.within": 180},
        "exists (select 1 from messages m where m.profile_id = p.profile_id and m.is_opened"
        " and m.channel = 'email' and " + _window("m.first_opened_at", 180) + ")",
    ),
    "consent_topic": (
        "consent",
        {"aud.c1.channel": "sms", "aud.c1.topic": "promotions"},
        "exists (select 1 from profile_consents c where c.profile_id = p.profile_id and c.channel = 'sms'"
        " and c.topic = 'promotions' and c.is_opted_in)",
    ),
    "reachable": ("reachable", {"aud.c1.channel": "push"}, "coalesce(p.is_push_reachable, false)"),
    "in_audience": (
        "in_audience",
        {"aud.c1.audience": "recent_buyers"},
        "exists (select 1 from orders o where o.profile_id = p.profile_id and o.is_completed and "
        + _window("o.ordered_at", 365)
        + ")",
    ),
}


@pytest.mark.parametrize("case", list(RELATED))
def test_related_data_consent_reachability_and_audiences_count_like_sql(app_env, case: str) -> None:  # type: ignore[no-untyped-def]
    kind, settings, where = RELATED[case]
    at = _add(_page(), kind)
    for key, value in settings.items():
        (widget,) = _matching(at, key)
        widget.set_value(value)
        _run(at)
    sql = f"select count(*) from profiles p where {where}".replace("$as_of", "?")
    expected = app_env.value(sql, [_as_of(app_env)] * sql.count("?"))
    assert _members(at) == expected, _spec_yaml(at)


def _matching(at: AppTest, key: str) -> Iterator[Any]:
    for node in _walk(at.main):
        if getattr(node, "key", None) == key:
            yield node


def test_breakdown_members_reachability_and_overlap_follow_the_audience(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "country_code", "eq")
    at.selectbox(key="aud.c1.value.choice").set_value("FR")
    _run(at)
    titles = [json.loads(c.proto.spec)["title"]["text"] for c in at.get("vega_lite_chart")]
    assert titles == ["Members by country_code"]
    at.selectbox(key="aud_breakdown").set_value("rfm_segment")
    _run(at)
    assert [json.loads(c.proto.spec)["title"]["text"] for c in at.get("vega_lite_chart")] == ["Members by rfm_segment"]

    at.session_state["aud_tab"] = "Members"
    _run(at)
    (sample,) = [d.value for d in at.dataframe]
    first = app_env.rows("select profile_id from profiles where country_code = 'FR' order by profile_id limit 20")
    assert list(sample["profile_id"]) == [r[0] for r in first]
    assert set(sample["country_code"]) == {"FR"}

    at.session_state["aud_tab"] = "Reachability"
    _run(at)
    (reach,) = [d.value for d in at.dataframe]
    shown = dict(zip(reach["channel"], reach["members"], strict=True))
    for channel, label in [("email", "Email"), ("sms", "SMS"), ("push", "Push"), ("in_app", "In-app")]:
        sql = f"select count(*) from profiles where country_code = 'FR' and is_{channel}_reachable"
        assert shown[label] == app_env.value(sql), channel

    at.session_state["aud_tab"] = "Overlap"
    _run(at)
    (overlap,) = [d.value for d in at.dataframe]
    row = overlap.set_index("audience").loc["recent_buyers"]
    buyers = (
        "select distinct profile_id from orders where is_completed and ordered_at >= ? - interval 365 day"
        " and ordered_at <= ?"
    )
    as_of = [_as_of(app_env)] * 2
    assert row["size"] == app_env.value(f"select count(*) from ({buyers})", as_of)
    shared = f"select count(*) from profiles where country_code = 'FR' and profile_id in ({buyers})"
    assert row["shared"] == app_env.value(shared, as_of)


# ---------------------------------------------------------------------------------------------- errors


def test_a_wrong_type_value_is_explained_next_to_its_condition(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "country_code", "eq")
    at.selectbox(key="aud.c1.value.choice").set_value("FR")
    _attribute(_run(at), "c2", "order_count", "in")
    at.text_area(key="aud.c2.value.lines").input("3\nmany")
    _run(at)
    message = "condition where.all[1].order_count: order_count is integer; 'many' is not a number"
    assert any(message in e for e in _errors(at)), _errors(at)
    keys = _keys_next_to(at, message)
    assert "aud.c2.column" in keys and "aud.c1.column" not in keys
    assert _members(at) is None
    assert at.button(key="aud_save").disabled


def test_an_unknown_column_in_a_custom_condition_is_explained_next_to_it(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _add(_page(), "reachable")
    _add(at, "yaml")  # c2
    at.text_area(key="aud.c2.yaml").input("no_such_column: {eq: 1}")
    _run(at)
    message = "condition where.all[1].no_such_column: unknown column 'no_such_column' in profiles"
    keys = _keys_next_to(at, message)
    assert "aud.c2.yaml" in keys and "aud.c1.channel" not in keys
    assert _members(at) is None

    at.text_area(key="aud.c2.yaml").input("country_code: {in: [FR, BE")
    _run(at)
    assert any("Not valid YAML" in e for e in _errors(at))
    # The unreadable row is left out; the rest still counts.
    assert _members(at) == app_env.value("select count(*) from profiles where is_email_reachable")


def test_a_saved_spec_with_an_unknown_column_opens_as_yaml_with_its_error(scratch_specs: Project) -> None:
    folder = scratch_specs.specs_dir / "audiences"
    (folder / "typo_column.yml").write_text(
        "name: typo_column\nwhere:\n  all:\n  - country_code: FR\n  - countrycode: {eq: BE}\n", encoding="utf-8"
    )
    at = _page()
    at.selectbox(key="aud_pick").set_value("typo_column")
    _run(at)
    assert at.text_area(key="aud.c2.yaml").value.strip() == "countrycode:\n  eq: BE"
    message = "condition where.all[1].countrycode: unknown column 'countrycode' in profiles; did you mean country_code"
    keys = _keys_next_to(at, message)
    assert "aud.c2.yaml" in keys and "aud.c1.column" not in keys


def test_a_saved_spec_that_does_not_parse_is_reported_and_the_page_still_works(scratch_specs: Project) -> None:
    (scratch_specs.specs_dir / "audiences" / "empty_group.yml").write_text(
        "name: empty_group\nwhere: {all: []}\n", encoding="utf-8"
    )
    at = _page()
    at.selectbox(key="aud_pick").set_value("empty_group")
    _run(at)
    assert "This saved audience cannot be opened:" in _errors(at)
    assert any("`all` needs a non-empty list of conditions" in c.value for c in at.code)
    assert at.selectbox(key="aud_pick").value == ""  # back to a new audience
    at.session_state["aud_tab"] = "Overlap"
    _run(at)
    (overlap,) = [d.value for d in at.dataframe]
    assert "empty_group" not in set(overlap["audience"]) and "recent_buyers" in set(overlap["audience"])


def test_a_spec_deeper_than_the_builder_is_shown_as_yaml_counted_and_kept(scratch_specs: Project, warehouse) -> None:  # type: ignore[no-untyped-def]
    deep = {
        "name": "deep_spec",
        "where": {
            "all": [
                {"country_code": {"in": ["FR", "DE", "GB"]}},
                {
                    "any": [
                        {"all": [{"any": [{"reachable": "email"}, {"reachable": "sms"}]}, {"order_count": {"gte": 2}}]},
                        {"engagement_score": {"gte": 70}},
                    ]
                },
            ]
        },
    }
    path = scratch_specs.specs_dir / "audiences" / "deep_spec.yml"
    path.write_text(yaml.safe_dump(deep, sort_keys=False), encoding="utf-8")
    at = _page()
    at.selectbox(key="aud_pick").set_value("deep_spec")
    _run(at)
    # The inner `all` is deeper than the builder edits: it is a YAML row inside the group.
    assert "any:" in at.text_area(key="aud.c3.yaml").value
    assert _spec_yaml(at) == dump_spec(load_spec(path))
    expected = warehouse.value(
        "select count(*) from profiles where country_code in ('FR', 'DE', 'GB') and ("
        " (coalesce(is_email_reachable, false) or coalesce(is_sms_reachable, false))"
        " and coalesce(order_count >= 2, false)"
        " or coalesce(engagement_score >= 70, false))"
    )
    assert _members(at) == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_matches_literally_and_never_breaks_the_sql(app_env, text: str) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "email", "eq")
    at.text_input(key="aud.c1.value.text").input(text)
    _run(at)
    assert not at.error, _errors(at)
    assert _members(at) == app_env.value("select count(*) from profiles where email = ?", [text])
    at.selectbox(key="aud.c1.op").set_value("contains")
    _run(at)
    assert not at.error, _errors(at)
    expected = app_env.value("select count(*) from profiles where strpos(lower(email), lower(?)) > 0", [text])
    assert _members(at) == expected
    assert app_env.value("select count(*) from profiles") > 0


def test_a_nul_character_is_refused_with_a_message(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "city", "eq")
    at.text_input(key="aud.c1.value.text").input("Par\x00is")
    _run(at)
    assert "aud.c1.column" in _keys_next_to(at, "a value cannot contain a NUL character")


# ---------------------------------------------------------------------------------------------- SQL and YAML


def test_show_sql_shows_the_compiled_condition_per_dialect(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _attribute(_page(), "c1", "country_code", "eq")
    at.selectbox(key="aud.c1.value.choice").set_value("FR")
    _run(at)
    assert not [c for c in at.code if c.language == "sql"]
    at.toggle(key="aud_show_sql").set_value(True)
    _run(at)
    for dialect in ("duckdb", "postgres", "spark"):
        at.radio(key="aud_dialect").set_value(dialect)
        _run(at)
        (sql,) = [c.value for c in at.code if c.language == "sql"]
        assert "country_code" in sql and "'FR'" in sql, sql


def test_opening_a_saved_audience_shows_it_unchanged_and_counts_it(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    library = AudienceLibrary.of(Project(root=APP.parent, warehouse_dir=app_env.dir))
    for name in library.names():
        at.selectbox(key="aud_pick").set_value(name)
        _run(at)
        assert at.text_input(key="aud.name").value == name
        assert _spec_yaml(at) == dump_spec(library.get(name)), name
        assert _members(at) is not None and not at.error, _errors(at)
    at.selectbox(key="aud_pick").set_value("recent_buyers")
    _run(at)
    expected = app_env.value(
        "select count(distinct profile_id) from orders where is_completed and ordered_at >= ? - interval 365 day"
        " and ordered_at <= ?",
        [_as_of(app_env)] * 2,
    )
    assert _members(at) == expected


SHAPES = {
    "name": "shapes",
    "description": "Every kind of condition\n",
    "where": {
        "all": [
            {"lifetime_value": {"gt": 100}},
            {"lifetime_value": {"between": [1, 2.5]}},
            {"order_count": {"in": [1, 2]}},
            {"birth_date": {"before": dt.date(2000, 1, 1)}},
            {"created_at": {"after": dt.datetime(2020, 1, 1, 10, 0)}},
            {"city": {"contains": "par"}},
            {"email": {"is_empty": True}},
            {
                "not": {
                    "any": [{"reachable": "sms"}, {"not": {"consent": {"channel": "sms"}}}, {"all": [{"city": "x"}]}]
                }
            },
            {"messages": {"action": "opened", "channel": "email", "campaign": "CMP01", "within_days": 30}},
            {"messages": {"action": "clicked", "count": {"lt": 1}}},
            {"events": {"type": "search", "did_not": True, "within_days": 7}},
            {"orders": {"sum": {"column": "total_amount_eur", "gte": 100}, "within_days": 90}},
            {"order_lines": {"where": {"category": "shoes"}, "count": {"gte": 1}}},
            {"is_email_valid": True},
            {"in_audience": {"name": "winter_sale_test", "groups": ["A"]}},
        ]
    },
    "exclude": ["recent_buyers"],
    "limit": {"count": 10, "order_by": "lifetime_value", "descending": True},
    "split": {"groups": [{"name": "A", "percent": 50}, {"name": "B", "percent": 50}]},
    "salt": " spaced ",
}
# Rows the builder edits, in order; "yaml" marks conditions it keeps as YAML (a time of day, order lines).
SHAPE_ROWS = ["attribute"] * 4 + ["yaml"] + ["attribute"] * 2 + ["group", "messages", "messages", "events"]
SHAPE_ROWS += ["orders", "yaml", "attribute", "in_audience"]


def test_every_spec_shape_round_trips_through_the_builder(app_env) -> None:  # type: ignore[no-untyped-def]
    from app.data.audiences import profile_fields
    from herald.audiences.draft_to_spec import build_spec, compose
    from herald.audiences.drafts import GroupRow
    from herald.audiences.spec_to_draft import draft_from_spec

    project = Project(root=APP.parent, warehouse_dir=app_env.dir)
    fields = profile_fields(str(app_env.path), project)
    specs = [parse_spec(SHAPES), *AudienceLibrary.of(project).all()]
    specs.append(parse_spec({"name": "wrapped", "where": {"all": [{"country_code": "FR"}]}}))
    negated = {"not": {"any": [{"country_code": "FR"}, {"reachable": "sms"}]}}
    specs.append(parse_spec({"name": "negated", "where": negated}))
    for spec in specs:
        draft = draft_from_spec(spec, fields)
        composed = compose(draft, fields)
        assert not composed.left_out, spec.name
        rebuilt = build_spec(composed)
        assert rebuilt == spec and dump_spec(rebuilt) == dump_spec(spec), spec.name
    draft = draft_from_spec(specs[0], fields)
    assert [r.KIND for r in draft.rows] == SHAPE_ROWS
    group = draft.rows[7]
    assert isinstance(group, GroupRow) and group.negate
    assert [(c.KIND, c.negate) for c in group.children] == [("reachable", False), ("consent", True), ("yaml", False)]


@pytest.mark.parametrize(
    ("message", "row", "section"),
    [
        ("condition where.all[1].not.any[0].city: unknown column", "c3", None),
        ("condition where.all[1].not: a condition is a mapping", "c2", None),
        ("condition where.all[10].age: unknown column", "c4", None),
        ("condition limit.order_by: unknown column 'x' in profiles", None, "limit"),
        ("limit.order_by: cannot order by true/false column 'is_email_valid'", None, "limit"),
        ("audience: `name` must be lower-case letters", None, "name"),
        ("audience: split: group percents add up to 90, not 100", None, "split"),
        ("condition exclude[gone]: no audience 'gone'", None, "sets"),
        ("audience 'a': cycle between audiences: a → b → a", None, None),
    ],
)
def test_errors_are_placed_at_the_row_or_section_they_name(message: str, row: str | None, section: str | None) -> None:
    from herald.audiences.draft_to_spec import locate

    paths = {"c1": "where.all[0]", "c2": "where.all[1]", "c3": "where.all[1].not.any[0]", "c4": "where.all[10]"}
    placed = locate(message, paths)
    assert (placed.row, placed.section) == (row, section)


# ---------------------------------------------------------------------------------------------- saving


def test_save_writes_the_spec_starts_the_build_and_reports_it_ready(scratch_app: Project, warehouse) -> None:  # type: ignore[no-untyped-def]
    at = _page()
    at.text_input(key="aud.name").input("fr_be_engaged")
    at.text_area(key="aud.description").input("French and Belgian profiles with some engagement")
    _attribute(_run(at), "c1", "country_code", "in")
    at.multiselect(key="aud.c1.value.choices").set_value(["FR", "BE"])
    _attribute(_run(at), "c2", "engagement_score", "gte")
    at.number_input(key="aud.c2.value.int").set_value(40)
    _run(at)
    members = _members(at)
    assert members == warehouse.value(
        "select count(*) from profiles where country_code in ('FR', 'BE') and engagement_score >= 40"
    )
    shown = parse_spec(yaml.safe_load(_spec_yaml(at)))

    at.button(key="aud_save").click()
    _run(at)
    path = scratch_app.specs_dir / "audiences" / "fr_be_engaged.yml"
    expected = parse_spec(
        {
            "name": "fr_be_engaged",
            "description": "French and Belgian profiles with some engagement",
            "where": {"all": [{"country_code": {"in": ["FR", "BE"]}}, {"engagement_score": {"gte": 40}}]},
        }
    )
    assert load_spec(path) == expected == shown
    assert job_path(scratch_app, "fr_be_engaged").is_file()
    assert at.selectbox(key="aud_pick").value == "fr_be_engaged"

    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    job = read_job(scratch_app, "fr_be_engaged")
    while job is not None and job.is_running and time.monotonic() < deadline:
        time.sleep(1)
        job = read_job(scratch_app, "fr_be_engaged")
    log = job_path(scratch_app, "fr_be_engaged").with_suffix(".log")
    assert job is not None and job.state == "succeeded", log.read_text(encoding="utf-8")

    _run(at)
    assert any("is ready" in _unescape(s.value) and f"{members:,} members" in s.value for s in at.success)
    (row,) = [r for r in list_audiences(scratch_app) if r.name == "fr_be_engaged"]
    assert row.is_current and row.members == members


def test_saving_under_an_existing_name_is_refused_next_to_the_name(scratch_specs: Project) -> None:
    before = (scratch_specs.specs_dir / "audiences" / "recent_buyers.yml").read_text(encoding="utf-8")
    at = _page()
    at.text_input(key="aud.name").input("recent_buyers")
    _add(_run(at), "reachable")
    at.button(key="aud_save").click()
    _run(at)
    keys = _keys_next_to(at, "An audience named recent_buyers already exists")
    assert "aud.name" in keys and "aud.c1.channel" not in keys
    assert (scratch_specs.specs_dir / "audiences" / "recent_buyers.yml").read_text(encoding="utf-8") == before
    assert not job_path(scratch_specs, "recent_buyers").exists()


def test_a_save_that_would_break_another_audience_is_refused_for_the_form(scratch_specs: Project) -> None:
    folder = scratch_specs.specs_dir / "audiences"
    (folder / "ab_split.yml").write_text(
        "name: ab_split\nwhere: {reachable: email}\n"
        "split: {groups: [{name: A, percent: 50}, {name: B, percent: 50}]}\n",
        encoding="utf-8",
    )
    (folder / "reads_a.yml").write_text(
        "name: reads_a\nwhere: {in_audience: {name: ab_split, groups: [A]}}\n", encoding="utf-8"
    )
    before = (folder / "ab_split.yml").read_text(encoding="utf-8")
    at = _page()
    at.selectbox(key="aud_pick").set_value("ab_split")
    _run(at)
    at.toggle(key="aud.split_on").set_value(False)
    _run(at)
    at.button(key="aud_save").click()
    _run(at)
    message = "Not saved: a saved audience that reads ab_split would break"
    keys = _keys_next_to(at, message)
    assert "aud.name" in keys  # shown for the whole form, not at a row of this audience
    assert (folder / "ab_split.yml").read_text(encoding="utf-8") == before
    assert not job_path(scratch_specs, "ab_split").exists()


def test_a_failed_or_lost_build_is_reported_with_its_message(scratch_app: Project) -> None:
    now = clock.now()
    failed = AudienceJob("recent_buyers", "failed", now.isoformat(), message="Compilation Error in aud_recent_buyers")
    write_job(scratch_app, failed)
    job_path(scratch_app, "recent_buyers").with_suffix(".log").write_text("dbt: 1 of 3 ERROR\n", encoding="utf-8")
    at = _page()
    at.selectbox(key="aud_pick").set_value("recent_buyers")
    _run(at)
    assert "The build of **recent_buyers** failed:" in _errors(at)
    texts = [c.value for c in at.code]
    assert "Compilation Error in aud_recent_buyers" in texts and "dbt: 1 of 3 ERROR" in texts

    # A job recorded by start_build whose process never reported back (no process id after a minute).
    lost = AudienceJob("recent_buyers", "running", (now - dt.timedelta(minutes=5)).isoformat())
    write_job(scratch_app, lost)
    _run(at)
    assert any("never reported back" in c for c in [c.value for c in at.code])
