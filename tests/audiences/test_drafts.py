"""The audience builder's draft, without Streamlit or a warehouse: what the form's rows make of a spec, what is
left out until it is filled in, where an error is shown, and that opening a saved spec and saving it again never
changes it."""

from __future__ import annotations

import datetime as dt

import pytest

from herald.audiences.draft_to_spec import Problem, build_spec, compose, locate, name_problem
from herald.audiences.drafts import (
    STAND_IN_NAME,
    AttributeRow,
    Draft,
    EventsRow,
    Fields,
    GroupRow,
    YamlRow,
    format_lines,
    parse_lines,
)
from herald.audiences.spec import AudienceSpec, dump_spec, parse_spec
from herald.audiences.spec_to_draft import draft_from_spec

FIELDS = Fields(
    kinds={
        "country_code": "string",
        "city": "string",
        "engagement_score": "integer",
        "lifetime_value": "number",
        "birth_date": "date",
        "created_at": "timestamp",
        "is_email_valid": "boolean",
    },
    few_values=frozenset({"country_code"}),
)


def _spec(draft: Draft) -> AudienceSpec:
    built = build_spec(compose(draft, FIELDS))
    assert isinstance(built, AudienceSpec), built
    return built


def test_rows_not_filled_in_are_left_out_and_the_rest_still_counts() -> None:
    draft = Draft(name="fr_engaged")
    country = draft.add("attribute", FIELDS)
    score = draft.add("attribute", FIELDS)
    assert isinstance(country, AttributeRow) and isinstance(score, AttributeRow)
    country.values["choice"] = "FR"
    score.column, score.op = "engagement_score", "gte"  # no value yet

    composed = compose(draft, FIELDS)
    assert composed.left_out[score.id].message == "Enter a value."
    assert composed.left_out[score.id].severity == "incomplete"
    assert _spec(draft).where == parse_spec({"name": "x", "where": {"country_code": "FR"}}).where

    score.values["int"] = 40.0  # a number input's whole float is written as an int
    assert compose(draft, FIELDS).data["where"] == {
        "all": [{"country_code": {"eq": "FR"}}, {"engagement_score": {"gte": 40}}]
    }


def test_an_unnamed_draft_counts_under_a_stand_in_name_but_cannot_be_saved() -> None:
    assert compose(Draft(), FIELDS).data["name"] == STAND_IN_NAME
    assert name_problem("") == "Give the audience a name to save it."
    assert name_problem("Lapsed VIPs") is not None
    assert name_problem("lapsed_vips") is None


def test_unreadable_yaml_is_an_error_at_its_row() -> None:
    draft = Draft(name="custom")
    row = draft.add("yaml", FIELDS)
    assert isinstance(row, YamlRow)
    row.text = "city: {eq: Paris"
    issue = compose(draft, FIELDS).left_out[row.id]
    assert issue.severity == "error" and issue.message.startswith("Not valid YAML")


def test_an_error_naming_a_condition_is_placed_at_the_row_it_came_from() -> None:
    draft = Draft(name="nested", match="any")
    group = draft.add("group", FIELDS)
    child = draft.add("attribute", FIELDS, parent=group.id)
    assert isinstance(child, AttributeRow)
    child.column, child.op = "city", "eq"
    child.values["text"] = "Paris"
    group.negate = True
    composed = compose(draft, FIELDS)
    assert composed.paths == {group.id: "where", child.id: "where.not.any[0]"}
    placed = locate("condition where.not.any[0].city: unknown column 'city'", composed.paths)
    assert placed == Problem("condition where.not.any[0].city: unknown column 'city'", row=child.id)
    assert locate("audience: split: group percents add up to 90, not 100", composed.paths).section == "split"


SPECS = [
    {"name": "plain"},
    {"name": "one", "where": {"country_code": "FR"}},
    {"name": "wrapped", "where": {"all": [{"country_code": "FR"}]}},
    {
        "name": "mixed",
        "description": "  kept as typed  ",
        "where": {
            "any": [
                {"engagement_score": {"between": [10, 90]}},
                {"lifetime_value": {"gte": 100.5}},
                {"birth_date": {"birthday_within_days": 7}},
                {"city": {"in": ["Paris", "Lyon"]}},
                {"not": {"is_email_valid": True}},
                {
                    "orders": {
                        "within_days": 365,
                        "where": {"is_completed": True},
                        "sum": {"column": "total_amount_eur", "gte": 500},
                    }
                },
                {"events": {"type": "product_view", "at_least": 3, "within_days": 30}},
                {"events": {"type": "add_to_cart", "did_not": True, "within_days": 7}},
                {"messages": {"action": "opened", "channel": "email", "campaign": "C-1", "within_days": 30}},
                {"consent": {"channel": "email", "topic": "newsletter"}},
                {"not": {"reachable": "sms"}},
                {"in_audience": {"name": "staff", "groups": ["A"]}},
                {"all": [{"country_code": "FR"}, {"not": {"consent": {"channel": "sms"}}}]},
            ]
        },
        "exclude": ["staff"],
        "limit": {"count": 10, "order_by": "lifetime_value", "descending": False},
        "split": {"groups": [{"name": "A", "percent": 50}, {"name": "B", "percent": 50}]},
        "salt": "s",
    },
]


@pytest.mark.parametrize("data", SPECS, ids=[s["name"] for s in SPECS])
def test_opening_a_spec_and_saving_it_again_changes_nothing(data: dict[str, object]) -> None:
    spec = parse_spec(data)
    draft = draft_from_spec(spec, FIELDS)
    assert not compose(draft, FIELDS).left_out
    rebuilt = _spec(draft)
    assert rebuilt == spec and dump_spec(rebuilt) == dump_spec(spec)


def test_conditions_the_rows_cannot_edit_are_kept_as_yaml() -> None:
    spec = parse_spec(
        {
            "name": "odd",
            "where": {
                "all": [
                    {"engagement_score": {"eq": 1.5}},  # a fraction a whole-number input cannot hold
                    {"birth_date": {"after": dt.date(1850, 1, 1)}},  # before the date inputs' range
                    {"postcode": {"eq": "75001"}},  # a column the published warehouse does not have
                    {"any": [{"all": [{"country_code": "FR"}]}]},  # a group in a group: the inner one
                    {"events": {"type": "product_view", "at_least": 2, "where": {"category": "shoes"}}},
                ]
            },
        }
    )
    draft = draft_from_spec(spec, FIELDS)
    assert [r.KIND for r in draft.rows] == ["yaml", "yaml", "yaml", "group", "yaml"]
    group = draft.rows[3]
    assert isinstance(group, GroupRow) and [c.KIND for c in group.children] == ["yaml"]
    assert _spec(draft) == spec


def test_rows_the_editor_can_show_open_as_such() -> None:
    spec = parse_spec(
        {
            "name": "rows",
            "where": {
                "all": [{"created_at": {"before": dt.date(2026, 1, 1)}}, {"events": {"type": "click", "at_least": 1}}]
            },
        }
    )
    created, clicked = draft_from_spec(spec, FIELDS).rows
    assert isinstance(created, AttributeRow) and created.values == {"date": dt.date(2026, 1, 1)}
    assert isinstance(clicked, EventsRow) and (clicked.event_type, clicked.at_least) == ("click", 1)
    group = draft_from_spec(parse_spec({"name": "g", "where": {"not": {"any": [{"reachable": "sms"}]}}}), FIELDS)
    (row,) = group.rows
    assert isinstance(row, GroupRow) and row.negate and [c.KIND for c in row.children] == ["reachable"]


def test_lines_of_values_are_typed_for_their_column() -> None:
    assert parse_lines("12\n\n 7 \nabc", "integer") == [12, 7, "abc"]  # "abc" stays text: the compiler says why
    assert parse_lines("2026-01-02\n2026-01-03 10:00:00", "timestamp") == [
        dt.date(2026, 1, 2),
        dt.datetime(2026, 1, 3, 10, 0),
    ]
    values = (dt.date(2026, 1, 2), dt.datetime(2026, 1, 3, 10, 0))
    assert parse_lines(format_lines(values), "timestamp") == list(values)
