"""Profiles entering an audience: the members of one build of the audience who were not members at the build
before it.

Every full build and every audience build appends each audience's size to ``audience_builds`` and its members to
``audience_memberships``, so an entry is a query over two recorded builds — reproducible, and the same whoever
asks and whenever. A workflow triggered by ``enters_audience`` runs once per such window that has entrants, and a
delivery prepared for the window targets its entrants only.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass

import duckdb

from herald import warehouse
from herald.errors import WarehouseNotReady
from herald.project import Project

# How many of the latest audience builds a check looks at: windows older than that are not reopened.
RECENT_BUILDS = 50


@dataclass(frozen=True, slots=True)
class EntryWindow:
    """The profiles in ``audience`` at build ``build_id`` who were not in it at ``baseline_id``, the build before."""

    audience: str
    build_id: str
    baseline_id: str

    @property
    def run_key(self) -> str:
        return f"enter-{self.build_id}"


_ENTRANTS = """
    select {what}
    from audience_memberships as entered
    where entered.audience_name = ? and entered.build_id = ?
        and not exists (
            select 1 from audience_memberships as before
            where before.audience_name = entered.audience_name
                and before.build_id = ?
                and before.profile_id = entered.profile_id
        )
"""


def entrant_count(con: duckdb.DuckDBPyConnection, window: EntryWindow) -> int:
    row = con.execute(
        _ENTRANTS.format(what="count(*)"), [window.audience, window.build_id, window.baseline_id]
    ).fetchone()
    return int(row[0]) if row else 0


def entrants(project: Project, window: EntryWindow) -> list[str]:
    """The profile ids that entered in ``window``, sorted."""
    con = warehouse.connect(project)
    try:
        rows = con.execute(
            _ENTRANTS.format(what="entered.profile_id") + " order by 1",
            [window.audience, window.build_id, window.baseline_id],
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


def pending_windows(project: Project, audience: str, processed: Collection[str]) -> list[EntryWindow]:
    """Windows of ``audience`` with entrants that come after the latest processed one (``processed``: the build
    ids of windows already handled), oldest first. With none processed yet only the latest window counts: a new
    trigger does not replay the audience's history."""
    try:
        con = warehouse.connect(project)
    except WarehouseNotReady:
        return []
    try:
        try:
            rows = con.execute(
                "select build_id from (select distinct build_id from audience_builds where audience_name = ?"
                " order by build_id desc limit ?) order by build_id",
                [audience, RECENT_BUILDS],
            ).fetchall()
        except duckdb.CatalogException:  # a warehouse built before any audience existed
            return []
        builds = [str(r[0]) for r in rows]
        windows = [EntryWindow(audience, b, p) for p, b in itertools.pairwise(builds)]
        handled = [i for i, w in enumerate(windows) if w.build_id in processed]
        start = handled[-1] + 1 if handled else max(len(windows) - 1, 0)
        return [w for w in windows[start:] if entrant_count(con, w) > 0]
    finally:
        con.close()
