"""Audiences against the published warehouse: live counts, member samples, breakdowns, reachability, overlap.

Everything here runs the compiler's query (``Compiler.query``) wrapped in an outer select; wrappers add only
allow-listed column names (checked against the schema) and numeric limits, never user text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from herald import clock, warehouse
from herald.audiences.compiler import Compiler, Dialect, timestamp_literal
from herald.audiences.library import AudienceLibrary
from herald.audiences.schema import PROFILE_ROLLUPS, PROFILES, Schema, from_warehouse
from herald.audiences.spec import CHANNELS, AudienceSpec
from herald.errors import AudienceSpecError
from herald.project import Project

PREVIEW_COLUMNS = ("profile_id", "full_name", "email", "country_code", "lifetime_value", "engagement_score")


@dataclass(frozen=True, slots=True)
class AudienceCount:
    """Members in total and per group, in the order of the spec's groups."""

    total: int
    groups: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class LiveWarehouse:
    """One published build, open read-only, with the schema and reference time audiences compile against.
    ``rollups_as_of`` is the reference time its ``profile_rollups`` was built at (None without one)."""

    reader: warehouse.Reader
    schema: Schema
    as_of: dt.datetime
    build_id: str | None
    library: AudienceLibrary
    rollups_as_of: dt.datetime | None = None

    def compiler(self) -> Compiler:
        # The rollup answers conditions only if it was built at the reference time the count uses.
        return Compiler(
            schema=self.schema,
            resolve=self.library.get,
            as_of=timestamp_literal(self.as_of),
            rollups=self.rollups_as_of is not None and self.rollups_as_of == self.as_of,
        )

    def sql(self, spec: AudienceSpec, dialect: Dialect | None = None) -> str:
        """The compiled query, as "Show SQL" displays it (with this build's reference time)."""
        return self.compiler().sql(spec, dialect or self.reader.dialect)

    def _members(self, spec: AudienceSpec) -> exp.Select:
        return self.compiler().query(spec)

    def _run(self, query: exp.Expr) -> pa.Table:
        return self.reader.arrow(query.sql(dialect=self.reader.dialect))

    def count(self, spec: AudienceSpec) -> AudienceCount:
        members = self._members(spec).subquery("members")
        group = exp.column("audience_group", table="members")
        q = exp.select(group, exp.alias_(exp.Count(this=exp.Star()), "n")).from_(members).group_by(group.copy())
        found = {r["audience_group"]: int(r["n"]) for r in self._run(q).to_pylist()}
        groups = tuple((g, found.get(g, 0)) for g in spec.groups)
        return AudienceCount(total=sum(found.values()), groups=groups)

    def sample(self, spec: AudienceSpec, rows: int = 20, columns: tuple[str, ...] = PREVIEW_COLUMNS) -> pa.Table:
        """Up to ``rows`` members with a few profile columns, in profile order."""
        profile_columns = self.schema.columns(PROFILES)
        cols = [c for c in columns if c in profile_columns]
        q = (
            exp.select(
                exp.column("audience_group", table="members"),
                *(exp.column(c, table="pr") for c in cols),
            )
            .from_(self._members(spec).subquery("members"))
            .join(
                exp.to_table(PROFILES).as_("pr"),
                on=exp.EQ(
                    this=exp.column("profile_id", table="pr"), expression=exp.column("profile_id", table="members")
                ),
            )
            .order_by(exp.column("profile_id", table="members"))
            .limit(exp.Literal.number(max(0, int(rows))))
        )
        return self._run(q)

    def breakdown(self, spec: AudienceSpec, column: str, top: int = 12) -> list[tuple[str, int]]:
        """Members per value of profile ``column`` (the ``top`` largest, then "(other)"), nulls as "(none)"."""
        self.schema.kind(PROFILES, column, "breakdown")
        value = exp.Coalesce(
            this=exp.cast(exp.column(column, table="pr"), "varchar"), expressions=[exp.Literal.string("(none)")]
        )
        q = (
            exp.select(exp.alias_(value, "value"), exp.alias_(exp.Count(this=exp.Star()), "n"))
            .from_(self._members(spec).subquery("members"))
            .join(
                exp.to_table(PROFILES).as_("pr"),
                on=exp.EQ(
                    this=exp.column("profile_id", table="pr"), expression=exp.column("profile_id", table="members")
                ),
            )
            .group_by(exp.column("value"))
            .order_by(exp.Ordered(this=exp.column("n"), desc=True), exp.column("value"))
        )
        rows = [(str(r["value"]), int(r["n"])) for r in self._run(q).to_pylist()]
        if len(rows) > top:
            rows = [*rows[:top], ("(other)", sum(n for _, n in rows[top:]))]
        return rows

    def reachability(self, spec: AudienceSpec) -> list[tuple[str, int]]:
        """Members reachable on each channel."""
        flags = [c for c in CHANNELS if f"is_{c}_reachable" in self.schema.columns(PROFILES)]
        q = (
            exp.select(
                *(
                    exp.alias_(
                        exp.Sum(
                            this=exp.Case()
                            .when(exp.column(f"is_{c}_reachable", table="pr"), exp.Literal.number(1))
                            .else_(exp.Literal.number(0))
                        ),
                        c,
                    )
                    for c in flags
                )
            )
            .from_(self._members(spec).subquery("members"))
            .join(
                exp.to_table(PROFILES).as_("pr"),
                on=exp.EQ(
                    this=exp.column("profile_id", table="pr"), expression=exp.column("profile_id", table="members")
                ),
            )
        )
        row = self._run(q).to_pylist()[0]
        return [(c, int(row[c] or 0)) for c in flags]

    def overlap(self, spec: AudienceSpec, others: list[AudienceSpec]) -> list[tuple[str, int, int]]:
        """For each other audience: (name, its size, members shared with ``spec``)."""
        out = []
        mine = self._members(spec).subquery("mine")
        for other in others:
            if other.name == spec.name:
                continue
            try:
                theirs = self._members(other).subquery("theirs")
            except AudienceSpecError:
                continue  # an audience that no longer compiles has no overlap to show
            q = (
                exp.select(
                    exp.alias_(exp.Count(this=exp.column("profile_id", table="theirs")), "size"),
                    exp.alias_(exp.Count(this=exp.column("profile_id", table="mine")), "shared"),
                )
                .from_(theirs)
                .join(
                    mine.copy(),
                    join_type="left",
                    on=exp.EQ(
                        this=exp.column("profile_id", table="mine"), expression=exp.column("profile_id", table="theirs")
                    ),
                )
            )
            row = self._run(q).to_pylist()[0]
            out.append((other.name, int(row["size"]), int(row["shared"])))
        return out


@contextmanager
def open_live(project: Project, path: Path | None = None) -> Iterator[LiveWarehouse]:
    """The published build (the SQL warehouse when one is configured, else the current published file or the
    file ``path``), open read-only for the duration of the block."""
    with warehouse.reader(project, path) as reader:
        schema = from_warehouse(reader)
        meta = _build_info(reader)
        yield LiveWarehouse(
            reader=reader,
            schema=schema,
            as_of=_as_datetime(meta[0]) if meta and meta[0] is not None else clock.now().replace(tzinfo=None),
            build_id=None if not meta or meta[1] is None else str(meta[1]),
            library=AudienceLibrary.of(project),
            rollups_as_of=rollups_as_of(reader) if PROFILE_ROLLUPS in schema.tables else None,
        )


def _build_info(reader: warehouse.Reader) -> tuple[object, object] | None:
    """(reference time, build id) the published build recorded; None for a build that recorded none. The
    reference time is the publish time for builds from before it was recorded."""
    if not warehouse.has_table(reader, reader.meta_schema, "build_info"):
        return None
    rows = reader.arrow(f"select coalesce(as_of, published_at) as as_of, build_id from {reader.meta_schema}.build_info")
    first = rows.to_pylist()[:1]
    return (first[0]["as_of"], first[0]["build_id"]) if first else None


def _as_datetime(value: object) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def rollups_as_of(reader: warehouse.Reader) -> dt.datetime | None:
    """The one reference time ``profile_rollups`` was built at; None if its rows disagree or it has none."""
    rows = reader.arrow(
        f"select min(built_at) as low, max(built_at) as high, count(*) = count(built_at) as complete"
        f" from {PROFILE_ROLLUPS}"
    ).to_pylist()
    row = rows[0] if rows else None
    if row is None or row["low"] is None or row["low"] != row["high"] or not row["complete"]:
        return None
    return _as_datetime(row["low"])
