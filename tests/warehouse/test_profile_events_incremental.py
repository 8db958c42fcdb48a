"""profile_events built incrementally, for real on a copy of the demo warehouse: new event versions replace the
built rows, events follow their contact through an identity merge and a contact that lands after its events, and
two incremental builds give exactly the rows a full refresh gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from herald import landing
from herald.build import build
from herald.project import Project
from herald.raw_schema import APP_EVENTS, CRM_CONTACTS, RawTable
from tests.conftest import make_scratch_project

SELECT = ["+profile_events"]
# The marts beside profile_events (profiles, orders...) are not rebuilt here, so their relationships to the
# contacts landed by the test would not hold yet.
EXCLUDE = ["test_name:relationships"]
NOW = dt.datetime(2026, 11, 27, 12, 0)


def land(project: Project, table: RawTable, rows: list[dict[str, Any]]) -> None:
    columns = {c.name: [r.get(c.name) for r in rows] for c in table.columns}
    data = pa.Table.from_pydict({k: v for k, v in columns.items() if any(x is not None for x in v)})
    landing.land_batch(project, table, data, source_file=f"{table.name}.test")


COLUMNS = (
    "event_id, profile_id, external_key, event_type, url, product_id, category, search_query, platform, "
    "app_version, event_date, occurred_at, batch_id"
)


def events(project: Project) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(project.build_path), read_only=True) as con:
        return con.execute(f"select {COLUMNS} from profile_events order by event_id").fetchall()


def event(project: Project, event_id: str) -> dict[str, Any]:
    with duckdb.connect(str(project.build_path), read_only=True) as con:
        rel = con.execute("select * from profile_events where event_id = ?", [event_id])
        names = [d[0] for d in rel.description]
        rows = rel.fetchall()
    assert len(rows) == 1, f"{event_id}: {len(rows)} rows"
    return dict(zip(names, rows[0], strict=True))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> tuple[Project, dict[str, Any]]:
    project = make_scratch_project(tmp_path_factory.mktemp("profile-events"), demo_project)
    with duckdb.connect(str(project.build_path), read_only=True) as con:
        # An event to re-version, and two contacts with valid, different emails, the second created later.
        (old_event,) = con.execute("select event_id from profile_events order by event_id limit 1").fetchone() or ()
        first, later = con.execute(
            """
            select external_key, email, created_at from profiles
            where email is not null and profile_id = external_key and created_at is not null
            order by created_at, external_key limit 2
            """
        ).fetchall()
    facts = {"old_event": old_event, "first": first[0], "later": later[0]}

    # Build 1: a new version of a built event, an event of the later contact, one of a contact not landed yet.
    land(
        project,
        APP_EVENTS,
        [
            {
                "event_id": old_event,
                "external_key": later[0],
                "event_type": "search",
                "properties": '{"search_query": "red hat"}',
                "occurred_at": NOW,
            },
            {
                "event_id": "T-later",
                "external_key": later[0],
                "event_type": "page_view",
                "properties": '{"url": "https://shop/x"}',
                "occurred_at": NOW,
            },
            {
                "event_id": "T-newcomer",
                "external_key": "T-NEWCOMER",
                "event_type": "app_open",
                "properties": '{"platform": "iOS"}',
                "occurred_at": NOW,
            },
        ],
    )
    build(project, select=SELECT, exclude=EXCLUDE, quiet=True)
    facts["after_first"] = {e: event(project, e) for e in (old_event, "T-later", "T-newcomer")}

    # Build 2: the later contact takes the first one's email (merged into it), the newcomer lands.
    land(
        project,
        CRM_CONTACTS,
        [
            {"external_key": later[0], "email": first[1], "created_at": later[2], "updated_at": NOW},
            {"external_key": "T-NEWCOMER", "email": "newcomer@example.org", "created_at": NOW, "updated_at": NOW},
        ],
    )
    build(project, select=SELECT, exclude=EXCLUDE, quiet=True)
    return project, facts


def test_a_new_version_replaces_the_built_event(built: tuple[Project, dict[str, Any]]) -> None:
    _, facts = built
    row = facts["after_first"][facts["old_event"]]
    assert (row["event_type"], row["search_query"], row["external_key"]) == ("search", "red hat", facts["later"])
    assert row["profile_id"] == facts["later"]


def test_an_event_of_an_unknown_contact_has_no_profile_until_the_contact_lands(
    built: tuple[Project, dict[str, Any]],
) -> None:
    project, facts = built
    assert facts["after_first"]["T-newcomer"]["profile_id"] is None
    assert event(project, "T-newcomer")["profile_id"] == "T-NEWCOMER"
    assert event(project, "T-newcomer")["platform"] == "ios"


def test_events_follow_their_contact_into_the_profile_it_merged_into(built: tuple[Project, dict[str, Any]]) -> None:
    project, facts = built
    assert facts["after_first"]["T-later"]["profile_id"] == facts["later"]
    for event_id in ("T-later", facts["old_event"]):
        row = event(project, event_id)
        assert (row["external_key"], row["profile_id"]) == (facts["later"], facts["first"])
    with duckdb.connect(str(project.build_path), read_only=True) as con:
        stale = con.execute("select count(*) from profile_events where profile_id = ?", [facts["later"]]).fetchone()
    assert stale == (0,)


def test_incremental_builds_equal_a_full_refresh(built: tuple[Project, dict[str, Any]]) -> None:
    project, _ = built
    incremental = events(project)
    build(project, select=SELECT, exclude=EXCLUDE, full_refresh=True, quiet=True)
    full = events(project)
    assert len(incremental) == len(full) > 0
    assert incremental == full


def test_a_table_built_before_the_incremental_columns_gains_them_in_one_build(
    built: tuple[Project, dict[str, Any]],
) -> None:
    project, _ = built
    expected = events(project)
    with duckdb.connect(str(project.build_path)) as con:
        con.execute("alter table profile_events drop column batch_id")
        con.execute("alter table profile_events drop column external_key")
    build(project, select=SELECT, exclude=EXCLUDE, quiet=True)
    assert events(project) == expected
