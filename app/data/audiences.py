"""What the Audiences page reads: the saved audiences, the profile columns and values its pickers offer, and
live figures of the spec being edited (cached). The draft and its conversion to and from specs are
``herald.audiences.drafts``, ``draft_to_spec`` and ``spec_to_draft``.

Live figures come from ``herald.audiences.live`` on the published file, cached with that file's path in the
key (a new publish is never served old figures) and the saved audiences' content (``in_audience`` reads them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import streamlit as st

from app.data.warehouse import CACHE_TTL, read_only
from herald.audiences.compiler import Dialect
from herald.audiences.draft_to_spec import Problem, locate
from herald.audiences.drafts import Fields
from herald.audiences.library import AudienceLibrary
from herald.audiences.live import AudienceCount, open_live
from herald.audiences.schema import PROFILES
from herald.audiences.spec import AudienceSpec
from herald.errors import AudienceSpecError, HeraldError
from herald.project import Project

# A string column with at most this many distinct values gets a pick-list of them instead of a text box.
MAX_CHOICES = 50
SAMPLE_ROWS = 20
ORDERS_MART = "orders"
EVENTS_MART = "profile_events"
CONSENTS_MART = "profile_consents"
MESSAGES_MART = "messages"


# ---------------------------------------------------------------------------------------------- the library


def library_token(project: Project) -> str:
    """A digest of the saved specs: part of every live cache key, since ``in_audience`` reads them."""
    h = hashlib.sha256()
    for path in sorted((project.specs_dir / "audiences").glob("*.yml")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Saved:
    """The saved audiences that parse, and why the others do not."""

    specs: dict[str, AudienceSpec]
    broken: dict[str, str]

    @property
    def names(self) -> list[str]:
        return sorted([*self.specs, *self.broken])


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def saved_audiences(project: Project, token: str) -> Saved:
    library = AudienceLibrary.of(project)
    specs: dict[str, AudienceSpec] = {}
    broken: dict[str, str] = {}
    for name in library.names():
        try:
            specs[name] = library.get(name)
        except HeraldError as exc:
            broken[name] = str(exc)
    return Saved(specs, broken)


# ---------------------------------------------------------------------------------------------- warehouse


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def profile_fields(db: str, project: Project) -> Fields:
    """The profile columns audiences can filter on, and which string columns have few distinct values."""
    with open_live(project, Path(db)) as live:
        kinds = dict(live.schema.columns(PROFILES))
    strings = [c for c, k in kinds.items() if k == "string"]
    few: set[str] = set()
    if strings:
        with read_only(db) as con:
            p = con.table(PROFILES)
            # An approximate count screens out the many high-cardinality columns (emails, names) cheaply;
            # the few candidates left are counted exactly.
            approx = p.aggregate(**{c: p[c].approx_nunique() for c in strings}).to_pyarrow().to_pylist()[0]
            candidates = [c for c in strings if int(approx[c] or 0) <= 2 * MAX_CHOICES]
            if candidates:
                exact = p.aggregate(**{c: p[c].nunique() for c in candidates}).to_pyarrow().to_pylist()[0]
                few = {c for c in candidates if int(exact[c] or 0) <= MAX_CHOICES}
    return Fields(kinds=kinds, few_values=frozenset(few))


def _distinct(db: str, table: str, column: str, limit: int = 500) -> list[str]:
    with read_only(db) as con:
        if table not in con.list_tables() or column not in con.table(table).columns:
            return []
        t = con.table(table)
        expr = t.filter(t[column].notnull()).select(value=t[column].cast("string")).distinct().order_by("value")
        return [str(v) for v in expr.limit(limit).to_pandas()["value"]]


@st.cache_data(ttl=CACHE_TTL, max_entries=64, show_spinner=False)
def choices(db: str, column: str) -> list[str]:
    """The distinct values of profile string column ``column`` (only asked of few-valued columns)."""
    return _distinct(db, PROFILES, column, MAX_CHOICES)


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def event_types(db: str) -> list[str]:
    return _distinct(db, EVENTS_MART, "event_type")


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def consent_topics(db: str) -> list[str]:
    return _distinct(db, CONSENTS_MART, "topic")


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def campaigns(db: str) -> dict[str, str]:
    """Campaign id → name, for the campaigns messages were sent for."""
    with read_only(db) as con:
        if MESSAGES_MART not in con.list_tables():
            return {}
        m = con.table(MESSAGES_MART)
        frame = (
            m.filter(m.campaign_id.notnull())
            .group_by("campaign_id")
            .aggregate(name=m.campaign_name.max(), last=m.sent_at.max())
            .order_by([ibis.desc("last"), "campaign_id"])
            .to_pandas()
        )
    return {str(r.campaign_id): str(r.name or r.campaign_id) for r in frame.itertuples(index=False)}


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def numeric_columns(db: str, project: Project, table: str) -> list[str]:
    with open_live(project, Path(db)) as live:
        return [c for c, k in live.schema.columns(table).items() if k in ("integer", "number")]


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def total_profiles(db: str) -> int:
    with read_only(db) as con:
        return int(con.table(PROFILES).count().to_pyarrow().as_py())


# Every live figure: keyed by the published file, the project and the saved specs' digest; raise
# AudienceSpecError for a spec that does not compile (exceptions are not cached).


@st.cache_data(ttl=CACHE_TTL, max_entries=256, show_spinner=False)
def _count(db: str, project: Project, token: str, spec: AudienceSpec) -> AudienceCount:
    with open_live(project, Path(db)) as live:
        return live.count(spec)


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def breakdown(db: str, project: Project, token: str, spec: AudienceSpec, column: str) -> pd.DataFrame:
    """Columns ``value``, ``members``: members per value of profile ``column``, largest first."""
    with open_live(project, Path(db)) as live:
        rows = live.breakdown(spec, column)
    return pd.DataFrame(rows, columns=["value", "members"])


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def sample(db: str, project: Project, token: str, spec: AudienceSpec) -> pd.DataFrame:
    with open_live(project, Path(db)) as live:
        frame: pd.DataFrame = live.sample(spec, SAMPLE_ROWS).to_pandas()
    return frame


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def reachability(db: str, project: Project, token: str, spec: AudienceSpec) -> pd.DataFrame:
    """Columns ``channel``, ``members``: members reachable on each channel."""
    with open_live(project, Path(db)) as live:
        rows = live.reachability(spec)
    return pd.DataFrame(rows, columns=["channel", "members"])


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def overlap(db: str, project: Project, token: str, spec: AudienceSpec) -> pd.DataFrame:
    """Columns ``audience``, ``size``, ``shared``: each other saved audience that compiles, and how many
    members it shares with ``spec``."""
    saved = saved_audiences(project, token)
    rows: list[tuple[str, int, int]] = []
    with open_live(project, Path(db)) as live:
        for other in saved.specs.values():
            if other.name == spec.name:
                continue
            try:
                rows += live.overlap(spec, [other])
            except (AudienceSpecError, duckdb.Error):
                continue  # a saved audience that does not compile any more has no overlap to show
    return pd.DataFrame(rows, columns=["audience", "size", "shared"])


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def compiled_sql(db: str, project: Project, token: str, spec: AudienceSpec, dialect: Dialect) -> str:
    with open_live(project, Path(db)) as live:
        return live.sql(spec, dialect)


@dataclass(frozen=True, slots=True)
class Evaluation:
    count: AudienceCount | None
    problem: Problem | None


def evaluate(db: str, project: Project, token: str, spec: AudienceSpec, paths: Mapping[str, str]) -> Evaluation:
    """The live count of ``spec``, or the problem (placed at its row) that stops it."""
    try:
        return Evaluation(_count(db, project, token, spec), None)
    except AudienceSpecError as exc:
        return Evaluation(None, locate(str(exc), paths))
    except duckdb.Error as exc:
        return Evaluation(None, Problem(f"The warehouse could not count this audience: {exc}"))
