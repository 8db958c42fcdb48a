"""The Profiles page's queries, called directly against the published warehouse."""

from __future__ import annotations

import pandas as pd
import pytest

from app.data import profiles as data

# Deprecations inside ibis 12 under duckdb 1.5 / pandas 3, not in Herald's code.
pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
]


@pytest.fixture
def db(app_env) -> str:  # type: ignore[no-untyped-def]
    return str(app_env.path)


def test_search_ranks_an_exact_email_first(app_env, db: str) -> None:  # type: ignore[no-untyped-def]
    email = app_env.value("select email from profiles where email is not null order by profile_id limit 1")
    results = data.search_profiles(db, f"  {email.upper()} ")
    assert results.iloc[0]["email"] == email


def test_search_is_bounded(app_env, db: str) -> None:  # type: ignore[no-untyped-def]
    # "@" is in every valid email, so this matches every profile with one.
    assert len(data.search_profiles(db, "@", limit=10)) == min(10, app_env.value("select count(email) from profiles"))
    assert len(data.search_profiles(db, "@", limit=10_000)) <= data.SEARCH_LIMIT


def test_blank_search_returns_no_rows_without_querying(db: str) -> None:
    assert data.search_profiles(db, "   ").empty


def test_wildcards_are_matched_literally(app_env, db: str) -> None:  # type: ignore[no-untyped-def]
    # LIKE wildcards would match every row; literal "%" and "_" match no address or key.
    for text in ("%", "_", "%@%"):
        expected = app_env.value(
            "select count(*) from profiles where contains(lower(email), ?) or contains(lower(external_key), ?)",
            [text, text],
        )
        assert len(data.search_profiles(db, text)) == min(expected, data.SEARCH_LIMIT), text


def test_profile_360_counts_match_the_marts(app_env, db: str) -> None:  # type: ignore[no-untyped-def]
    profile_id = app_env.value(
        "select profile_id from orders group by profile_id order by count(*) desc, profile_id limit 1"
    )
    view = data.profile_360(db, profile_id)
    assert view is not None
    for table, frame in [
        ("orders", view.orders),
        ("messages", view.messages),
        ("profile_consents", view.consents),
        ("profile_identities", view.identities),
        ("message_events", view.message_events),
    ]:
        expected = app_env.value(f"select count(*) from {table} where profile_id = ?", [profile_id])
        assert len(frame) == expected, table
    events = app_env.value("select count(*) from profile_events where profile_id = ?", [profile_id])
    assert len(view.timeline) == events + len(view.orders) + len(view.message_events)


def test_unknown_profile_is_none(db: str) -> None:
    assert data.profile_360(db, "no-such-profile") is None


def test_consent_breakdown_accounts_for_every_profile(app_env, db: str) -> None:  # type: ignore[no-untyped-def]
    table = data.consent_by_channel(db)
    total = app_env.value("select count(*) from profiles")
    assert set(table["consent"]) <= {"opted in", "opted out", data.NO_RECORD}
    assert (table.groupby("channel")["profiles"].sum() == total).all()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"vip": true, "tier": "gold", "sizes": [1, 2]}', [("sizes", "[1, 2]"), ("tier", "gold"), ("vip", "true")]),
        ("{}", []),
        (None, []),
        ("not json", [("(unreadable)", "not json")]),
        ("[1, 2]", [("(value)", "[1, 2]")]),
    ],
)
def test_custom_attributes_become_a_table(raw: str | None, expected: list[tuple[str, str]]) -> None:
    table = data.attributes_table(raw)
    assert list(table.columns) == ["attribute", "value"]
    assert list(table.itertuples(index=False, name=None)) == expected
    assert isinstance(table, pd.DataFrame)


def test_quarantines_split_blocked_from_still_active(app_env, db: str) -> None:  # type: ignore[no-untyped-def]
    result = data.quarantines(db)
    assert "active" not in set(result.blocked["quarantine_status"])
    blocked = app_env.value("select count(*) from address_quarantines where quarantine_status <> 'active'")
    assert int(result.blocked["addresses"].sum()) == blocked
    assert result.still_active == app_env.value(
        "select count(*) from address_quarantines where quarantine_status = 'active'"
    )
