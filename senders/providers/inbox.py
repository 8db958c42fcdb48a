"""The in-app provider: "sending" is storing the messages in the inbox the app reads (``senders.inbox``).

Each ``send`` writes one part file, ``inbox/messages/<run_id>/<first message id>-<n>.jsonl``, in one atomic
rename: all messages of the call become visible together or none do, and ``lookup`` answers from exactly what
is on disk, so a job killed between "written" and "settled" finds out what went out instead of sending twice.
A message already stored is reported accepted again, never stored twice.

The in-app address is the profile id (``send_lists.address`` for in_app is ``profiles.profile_id``; a seed's
address is the seed value itself, meant to be a test profile's id).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from herald import clock
from herald.project import Project
from senders.errors import ProviderConfigError
from senders.inbox import encode_message, message_heads, messages_dir, stamp, visible_files
from senders.providers.base import Doubt, Outcome, OutgoingMessage, RequestRejected
from senders.providers.parts import outcomes, part_name, write_part

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]")


class _RunIndex:
    """Message ids of one run's parts; parts never change once visible, so each is read once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts: set[str] = set()
        self.where: dict[str, str] = {}  # message_id -> part name
        self.unreadable = False

    def refresh(self) -> None:
        self.unreadable = False
        for f in visible_files(self.folder, ".jsonl"):
            if f.name in self.parts:
                continue
            try:
                data = Path(f.path).read_bytes()
            except OSError:
                self.unreadable = True
                continue
            for _, message_id, *_ in message_heads(data):
                self.where.setdefault(message_id, f.name)
            self.parts.add(f.name)


class InboxProvider:
    """Stores in-app messages in the inbox. ``run_id`` (optional) tells ``lookup`` which run to search;
    without it, the runs this instance sent to are searched first, then every run. ``ttl`` sets
    ``expires_at``."""

    channel = "in_app"
    max_batch = 1000

    def __init__(self, project: Project, *, run_id: str | None = None, ttl: dt.timedelta | None = None) -> None:
        if run_id is not None and not _folder_name(run_id):
            raise ProviderConfigError(f"run id {run_id!r} cannot name an inbox folder")
        self._project = project
        self._run_id = run_id
        self._ttl = ttl
        self._runs: dict[str, _RunIndex] = {}

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        if not messages:
            return []
        if len(messages) > self.max_batch:
            raise RequestRejected(f"{len(messages)} messages in one call; at most {self.max_batch}")
        runs = sorted({m.run_id for m in messages})
        if len(runs) > 1 or (self._run_id is not None and runs != [self._run_id]):
            raise RequestRejected(f"one call carries one run's messages; got run(s) {', '.join(runs)}")
        run = self._index(runs[0])
        run.refresh()
        now = clock.now()
        expires = stamp(now + self._ttl) if self._ttl is not None else None
        lines: dict[str, bytes] = {}
        problems: dict[str, str] = {}
        for m in messages:
            if m.channel != self.channel:
                problems[m.message_id] = f"channel {m.channel} is not in_app"
            elif not m.address:
                problems[m.message_id] = "no profile id (address) for an in-app message"
            elif m.message_id not in run.where and m.message_id not in lines:
                record = {
                    "message_id": m.message_id,
                    "profile_id": m.address,
                    "created_at": stamp(now),
                    "expires_at": expires,
                    "run_id": m.run_id,
                    "title": m.title,
                    "text": m.text,
                    "html": m.html,
                    "data": dict(m.data),
                }
                lines[m.message_id] = encode_message(record)
        if lines:
            name = part_name(next(iter(lines)), len(lines), ".jsonl", fallback="message")
            written = write_part(
                run.folder / name, b"".join(lines.values()), what=f"inbox part for run {run.folder.name}"
            )
            for mid in lines:
                run.where[mid] = written.name
            run.parts.add(written.name)
        return outcomes(messages, problems, run.where)

    def lookup(
        self, message_ids: Sequence[str], *, doubts: Mapping[str, Doubt] | None = None
    ) -> Mapping[str, bool | None]:
        """True for each id stored in a visible part, False otherwise; None when a part could not be read."""
        missing = set(message_ids)
        unreadable = False
        for run in self._search_order():
            run.refresh()
            unreadable = unreadable or run.unreadable
            missing -= run.where.keys()
            if not missing:
                break
        return {mid: (None if unreadable else False) if mid in missing else True for mid in message_ids}

    def close(self) -> None:
        self._runs.clear()

    def _index(self, run_id: str) -> _RunIndex:
        if not _folder_name(run_id):
            raise RequestRejected(f"run id {run_id!r} cannot name a folder")
        if run_id not in self._runs:
            self._runs[run_id] = _RunIndex(messages_dir(self._project) / run_id)
        return self._runs[run_id]

    def _search_order(self) -> list[_RunIndex]:
        if self._run_id is not None:
            return [self._index(self._run_id)]
        known = list(self._runs)
        try:
            with os.scandir(messages_dir(self._project)) as entries:
                others = sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            others = []
        return [self._index(r) for r in dict.fromkeys([*known, *others])]


def _folder_name(run_id: str) -> bool:
    return bool(run_id) and not _UNSAFE.search(run_id) and not run_id.startswith(".")
