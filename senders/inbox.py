"""The in-app inbox: the messages the in-app provider stores, and what each profile did with them.

Everything is plain files under ``warehouse/inbox/``, never a DuckDB database, so nothing here waits for a
build or a reader and nothing waits for this:

    warehouse/inbox/
    ├── messages/<run_id>/<first message id>-<n>.jsonl   one part per provider call (one message a line)
    └── events/<yyyy-mm-dd>/<uuid>.jsonl                 one file per read / dismissed / opened_link

Both are append-only. A file appears whole in one rename (written under a name starting with "." first) and
never changes after, so readers remember what they have read by file name and only read files new since.

A message is ``read`` once it has a ``read`` or ``opened_link`` event (following a link implies reading it) and
``dismissed`` once it has a ``dismissed`` event; a message past its ``expires_at`` is no longer listed.

    InboxError(SenderError)    unknown event, or a message the profile does not have
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from herald import clock, files
from herald.project import Project
from senders.errors import SenderError

EventKind = Literal["read", "dismissed", "opened_link"]
EVENTS: tuple[EventKind, ...] = get_args(EventKind)
_READ: frozenset[EventKind] = frozenset({"read", "opened_link"})  # following a link implies reading

# Keys in the order they are written: the index reads the first four without decoding the whole line.
MESSAGE_KEYS = ("message_id", "profile_id", "created_at", "expires_at", "run_id", "title", "text", "html", "data")
_HEAD = re.compile(
    rb'\{"message_id": "([^"\\]*)", "profile_id": "([^"\\]*)", "created_at": "([^"\\]*)", '
    rb'"expires_at": (?:null|"([^"\\]*)")'
)
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so stamps sort as text in time order


class InboxError(SenderError):
    """An inbox request names an unknown event, or a message its profile does not have."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """One in-app message as its profile sees it; equal when every field (flags included) is equal."""

    message_id: str
    run_id: str
    profile_id: str
    title: str
    text: str
    html: str
    data: Mapping[str, str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    read: bool = False
    dismissed: bool = False


@dataclass(frozen=True, slots=True)
class InboxEvent:
    """One thing a profile did with one of its messages; equal when every field is equal."""

    event_id: str
    message_id: str
    profile_id: str
    event: EventKind
    occurred_at: dt.datetime


# ---------- layout and file primitives (shared with senders.providers.inbox)


def inbox_dir(project: Project) -> Path:
    return project.warehouse_dir / "inbox"


def messages_dir(project: Project) -> Path:
    return inbox_dir(project) / "messages"


def events_dir(project: Project) -> Path:
    return inbox_dir(project) / "events"


def stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime(_STAMP)


def parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)  # reads the "Z" as UTC


def encode_message(record: Mapping[str, Any]) -> bytes:
    """One message line: MESSAGE_KEYS in order, ASCII only (so no raw newline and byte offsets are stable)."""
    return json.dumps({k: record.get(k) for k in MESSAGE_KEYS}, ensure_ascii=True).encode("ascii") + b"\n"


def visible_files(folder: str | Path, suffix: str) -> Iterator[os.DirEntry[str]]:
    """Finished files of ``folder``; names starting with "." are still being written."""
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.endswith(suffix) and not e.name.startswith(".") and e.is_file():
                    yield e
    except FileNotFoundError:
        return


def write_atomic(target: Path, data: bytes, *, clobber: bool = True) -> Path:
    """Make ``target`` appear whole, durably, in one step; with ``clobber=False`` never replace an existing file
    (another name is taken instead, ``<stem>-<random>``). Returns the path written."""
    if not clobber:
        return files.write_new(target, data, durable=True)
    files.write_atomic(target, data, durable=True)
    return target


def message_heads(data: bytes) -> Iterator[tuple[int, str, str, str, str | None]]:
    """(offset, message_id, profile_id, created_at, expires_at) of each line of a message part.

    A regular expression reads the leading keys of lines written by ``encode_message`` in place (the bodies
    are never copied or decoded); any other line (escaped characters in an id, another writer) is decoded."""
    pos, size = 0, len(data)
    while pos < size:
        eol = data.find(b"\n", pos)
        eol = size if eol == -1 else eol + 1
        m = _HEAD.match(data, pos, eol)
        if m is not None:
            expires = m[4].decode() if m[4] is not None else None
            yield pos, m[1].decode(), m[2].decode(), m[3].decode(), expires
        elif data[pos:eol].strip():
            obj = json.loads(data[pos:eol])
            yield pos, obj["message_id"], obj["profile_id"], obj["created_at"], obj.get("expires_at")
        pos = eol


# ---------- the store

# Where one message is, per profile and message id: (created_at, expires_at, part file, byte offset).
# Plain tuples: the index holds one per message of the store.
_Entry = tuple[str, str | None, str, int]
_HIDDEN: frozenset[EventKind] = frozenset({*_READ, "dismissed"})  # not counted as unread
_NONE: frozenset[EventKind] = frozenset()


class Inbox:
    """Read and mark the in-app messages of profiles.

    Lazy and incremental: each call first reads the part and event files that appeared since the previous
    call (files never change once visible), so a long-lived instance answers from memory: an index of one
    small tuple per stored message, and the events' flags. Message bodies are read only when listed.
    Thread-safe."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._lock = threading.Lock()
        self._parts = _NewFiles(messages_dir(project), ".jsonl")
        self._events = _NewFiles(events_dir(project), ".jsonl")
        self._by_profile: dict[str, dict[str, _Entry]] = {}
        self._flags: dict[tuple[str, str], set[EventKind]] = {}  # (profile_id, message_id) -> events

    def messages(
        self, profile_id: str, *, include_dismissed: bool = False, limit: int | None = None
    ) -> list[InboxMessage]:
        """The profile's unexpired messages, newest first (the ``limit`` newest), with ``read`` / ``dismissed``
        from its events. Only the messages returned are read from their files."""
        with self._lock:
            self._refresh()
            now = stamp(clock.now())
            listed: list[tuple[str, _Entry, bool, bool]] = []  # message id, entry, read, dismissed
            for mid, e in self._by_profile.get(profile_id, {}).items():
                events = self._flags.get((profile_id, mid), _NONE)
                dismissed = "dismissed" in events
                if (e[1] is None or e[1] > now) and (include_dismissed or not dismissed):
                    listed.append((mid, e, not events.isdisjoint(_READ), dismissed))
        listed.sort(key=lambda x: (x[1][0], x[0]), reverse=True)
        if limit is not None:
            del listed[max(limit, 0) :]
        records = _read_lines([(e[2], e[3]) for _, e, _, _ in listed])
        return [_message(records[(e[2], e[3])], read=read, dismissed=dismissed) for _, e, read, dismissed in listed]

    def unread_count(self, profile_id: str) -> int:
        """How many of the profile's unexpired, undismissed messages it has not read."""
        with self._lock:
            self._refresh()
            now = stamp(clock.now())
            flags = self._flags
            return sum(
                1
                for mid, e in self._by_profile.get(profile_id, {}).items()
                if (e[1] is None or e[1] > now) and not flags.get((profile_id, mid), _NONE) & _HIDDEN
            )

    def record(
        self, profile_id: str, message_id: str, event: str, *, occurred_at: dt.datetime | None = None
    ) -> InboxEvent:
        """Append one event (eager: durable and counted when this returns).

        Raises InboxError for an unknown event, or a message that is unknown or another profile's (one answer
        for both, so a caller cannot probe for other profiles' message ids)."""
        if event not in EVENTS:
            raise InboxError(f"unknown inbox event {event!r} (expected {', '.join(EVENTS)})")
        kind = cast(EventKind, event)
        with self._lock:
            if message_id not in self._by_profile.get(profile_id, {}):
                self._refresh()
            if message_id not in self._by_profile.get(profile_id, {}):
                raise InboxError(f"profile {profile_id} has no in-app message {message_id}")
            at = (occurred_at or clock.now()).astimezone(dt.UTC)
            event_id = str(uuid.uuid4())
            line = {"message_id": message_id, "profile_id": profile_id, "event": kind, "occurred_at": stamp(at)}
            day = at.strftime("%Y-%m-%d")
            path = write_atomic(
                events_dir(self._project) / day / f"{event_id}.jsonl", json.dumps(line).encode() + b"\n"
            )
            self._events.seen.add(str(path))
            self._flags.setdefault((profile_id, message_id), set()).add(kind)
        return InboxEvent(event_id, message_id, profile_id, kind, at)

    def _refresh(self) -> None:
        self._parts.refresh(self._index_part)
        self._events.refresh(self._read_events)

    def _index_part(self, path: str) -> None:
        with open(path, "rb") as fh:
            data = fh.read()
        by_profile = self._by_profile
        for offset, mid, pid, created, expires in message_heads(data):
            by_profile.setdefault(pid, {}).setdefault(mid, (created, expires, path, offset))

    def _read_events(self, path: str) -> None:
        with open(path, "rb") as fh:
            lines = fh.read().splitlines()
        for line in lines:
            ev = json.loads(line) if line.strip() else {}
            if ev.get("event") in EVENTS:
                self._flags.setdefault((ev["profile_id"], ev["message_id"]), set()).add(ev["event"])


class _NewFiles:
    """Hands each finished file of ``root``'s subfolders to a reader once, listing only the subfolders that
    may have changed: a folder whose mtime has not moved since a listing that started more than a second
    after that mtime (far above file systems' timestamp granularity) cannot have gained a file since."""

    def __init__(self, root: Path, suffix: str) -> None:
        self.root = root
        self.suffix = suffix
        self.seen: set[str] = set()
        self._settled: dict[str, int] = {}  # folder -> mtime_ns when fully listed and read

    def refresh(self, read: Callable[[str], None]) -> None:
        try:
            with os.scandir(self.root) as entries:
                folders = [e for e in entries if e.is_dir() and not e.name.startswith(".")]
        except FileNotFoundError:
            return
        for folder in folders:
            mtime = folder.stat().st_mtime_ns
            if self._settled.get(folder.path) == mtime:
                continue
            started = time.time_ns()
            for f in visible_files(folder.path, self.suffix):
                if f.path not in self.seen:
                    read(f.path)
                    self.seen.add(f.path)
            if started - mtime > 1_000_000_000:
                self._settled[folder.path] = mtime


def _read_lines(places: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The decoded lines at these (part, offset) places, opening each part once."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    by_part: dict[str, list[int]] = {}
    for part, offset in places:
        by_part.setdefault(part, []).append(offset)
    for part, offsets in by_part.items():
        with open(part, "rb") as fh:
            if len(offsets) > 8:  # many lines of this part: one read beats a seek per line
                data = fh.read()
                for offset in offsets:
                    end = data.find(b"\n", offset)
                    out[(part, offset)] = json.loads(data[offset : end if end != -1 else None])
            else:
                for offset in offsets:
                    fh.seek(offset)
                    out[(part, offset)] = json.loads(fh.readline())
    return out


def _message(r: Mapping[str, Any], *, read: bool, dismissed: bool) -> InboxMessage:
    return InboxMessage(
        message_id=r["message_id"],
        run_id=r["run_id"],
        profile_id=r["profile_id"],
        title=r.get("title") or "",
        text=r.get("text") or "",
        html=r.get("html") or "",
        data=dict(r.get("data") or {}),
        created_at=parse_stamp(r["created_at"]),
        expires_at=parse_stamp(r["expires_at"]) if r.get("expires_at") else None,
        read=read,
        dismissed=dismissed,
    )
