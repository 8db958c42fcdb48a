"""Consent as the public pages see and change it: the published marts, plus every consent batch landed since.

A change made a minute ago must show on the preference page and must not be written twice, yet the marts only
know what the last build read. So the current status of a profile's channel × topic is the published
``profile_consents`` row, overridden by later events of the profile's contacts (``profile_identities``) in
``consent_events`` batches newer than that build's cut-off. Landed batches are immutable: each file is read
once per published build and cached.

Changes land as one ``consent_events`` batch per request (``herald.landing``): a plain Parquet file, so a
page never waits for a build or a reader, and the sender re-reads it before its next claim window.

Topic ``all`` is a channel's "everything" switch, read exactly as ``delivery_run_recipients`` reads it: its
opt-out cancels every topic opt-in whose current status began before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from herald import warehouse
from herald.landing import LandedBatch, land_batch, table_dir
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS

ALL = "all"
Status = Literal["opt_in", "opt_out"]
Key = tuple[str, str]  # (channel, topic)


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One opt-in or opt-out to land, with its evidence; equal when every field is equal."""

    consent_event_id: str
    external_key: str
    channel: str
    topic: str
    status: Status
    source: str
    evidence_id: str
    ip_address: str | None
    occurred_at: dt.datetime  # UTC, naive (the raw shape's timestamps are)


@dataclass(frozen=True, slots=True)
class Standing:
    """The current status of one channel × topic: opted in or not, since when, and the latest event's time."""

    opted_in: bool
    since: dt.datetime
    changed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Consents:
    """One profile's standings per (channel, topic), ``all`` included; answers what the next preparation will."""

    standings: Mapping[Key, Standing]

    def subscribed(self, channel: str, topic: str) -> bool:
        """An opt-in to the topic that no later "everything" opt-out cancels (what a send list requires)."""
        s = self.standings.get((channel, topic))
        if s is None or not s.opted_in:
            return False
        everything = self.standings.get((channel, ALL))
        return everything is None or everything.opted_in or s.since > everything.since

    def blocked(self, channel: str, topic: str | None) -> bool:
        """An opt-out is in force for the topic (or the whole channel): nothing is left to unsubscribe from."""
        everything = self.standings.get((channel, ALL))
        if topic is None or topic == ALL:
            return everything is not None and not everything.opted_in
        s = self.standings.get((channel, topic))
        if s is not None and not s.opted_in:
            return True
        return everything is not None and not everything.opted_in and not self.subscribed(channel, topic)

    def channels(self) -> list[str]:
        return sorted({c for c, _ in self.standings})

    def topics(self, channel: str) -> list[str]:
        return sorted(t for c, t in self.standings if c == channel and t != ALL)


def event_id(*parts: str) -> str:
    """A stable consent event id: the same request landed twice gives the same id, which the marts dedupe."""
    return "hc-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def land_events(project: Project, events: Sequence[ConsentEvent], *, source_file: str) -> LandedBatch | None:
    """Land ``events`` as one ``consent_events`` batch. Eager: durable and visible when this returns."""
    if not events:
        return None
    table = pa.Table.from_pylist(
        [
            {
                "consent_event_id": e.consent_event_id,
                "external_key": e.external_key,
                "channel": e.channel,
                "topic": e.topic,
                "status": e.status,
                "source": e.source,
                "evidence_id": e.evidence_id,
                "ip_address": e.ip_address,
                "occurred_at": e.occurred_at,
            }
            for e in events
        ]
    )
    return land_batch(project, CONSENT_EVENTS, table, source_file=source_file)


class ConsentBook:
    """Reads profiles' current consent; thread-safe. Landed batches are cached per published build."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._lock = threading.Lock()
        self._build: Path | None = None
        self._cutoff = ""
        self._seen: set[str] = set()
        self._landed: dict[str, list[tuple[dt.datetime, str, str, bool]]] = {}  # key → (at, channel, topic, in)

    def of(self, profile_id: str, external_keys: Iterable[str] = ()) -> Consents:
        """The profile's consent now (published, then newer landed events of its contacts). Eager."""
        path = warehouse.current_path(self.project)
        con = warehouse.connect(self.project, path)
        try:
            cutoff_row = con.execute("select batch_cutoff from herald_meta.build_info").fetchone()
            published = con.execute(
                "select channel, topic, is_opted_in, status_since, last_changed_at from profile_consents"
                " where profile_id = ?",
                [profile_id],
            ).fetchall()
            keys = {profile_id, *external_keys}
            keys |= {
                str(k)
                for (k,) in con.execute(
                    "select external_key from profile_identities where profile_id = ?", [profile_id]
                ).fetchall()
            }
        finally:
            con.close()
        standings: dict[Key, Standing] = {
            (str(c), str(t)): Standing(bool(i), s, changed) for c, t, i, s, changed in published
        }
        landed = self._landed_for(path, str(cutoff_row[0]) if cutoff_row and cutoff_row[0] else "", keys)
        for at, channel, topic, opted_in in landed:
            before = standings.get((channel, topic))
            if before is not None and at < before.changed_at:
                continue  # an older event landed late: the later one still stands
            since = before.since if before is not None and before.opted_in == opted_in else at
            standings[(channel, topic)] = Standing(opted_in, since, at)
        return Consents(standings)

    def _landed_for(self, build: Path, cutoff: str, keys: set[str]) -> list[tuple[dt.datetime, str, str, bool]]:
        with self._lock:
            if build != self._build:  # a new build read the old batches: start again from its cut-off
                self._build, self._cutoff, self._seen, self._landed = build, cutoff, set(), {}
            self._read_new()
            events = [e for k in keys for e in self._landed.get(k, ())]
        # Oldest first; at the same instant the opt-out last, so that it stands (as in profile_consents).
        return sorted(events, key=lambda e: (e[0], e[3] is False))

    def _read_new(self) -> None:
        folder = table_dir(self.project, CONSENT_EVENTS)
        if not folder.is_dir():
            return
        fresh = sorted(str(p) for p in folder.glob("*.parquet") if p.stem > self._cutoff and str(p) not in self._seen)
        if not fresh:
            return
        con = duckdb.connect()
        try:
            rows = con.execute(
                "select external_key, channel, topic, status, occurred_at from read_parquet(?, union_by_name = true)"
                " where status in ('opt_in', 'opt_out') and external_key is not null and occurred_at is not null",
                [fresh],
            ).fetchall()
        finally:
            con.close()
        self._seen.update(fresh)
        for key, channel, topic, status, at in rows:
            self._landed.setdefault(str(key), []).append((at, str(channel), str(topic), status == "opt_in"))
