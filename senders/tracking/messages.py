"""Which message a signed link came from: run, recipient, profile, channel, delivery and consent topic.

Unsubscribe (``/u/{token}``) and preference (``/p/{token}``) links carry only a message id. It is looked up
in two places, newest last:

1. the published warehouse's ``message_sends`` (every message the ledger held at the last build), with the
   topic of its frozen ``send_lists`` row;
2. the send ledger, for messages sent since that build: ``plan.json`` gives a run's shard count, and
   ``shard_of`` names the one journal file of the run that can hold the message, so each run costs one file.

A message never changes recipient, so answers are cached. Nothing here locks a file: the warehouse is opened
read-only and ledger journals are read as they are appended.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import duckdb

from herald import warehouse
from herald.campaigns.catalog import Catalog
from herald.errors import HeraldError
from herald.project import Project
from senders import ledger

_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message a recipient got, as its links see it; equal when every field is equal.

    ``profile_id`` is empty for seed addresses (they belong to no profile); ``topic`` is None for a delivery
    sent under every topic of its channel."""

    message_id: str
    run_id: str
    recipient_id: str
    profile_id: str
    channel: str
    delivery_id: str
    topic: str | None


class MessageDirectory:
    """Finds sent messages by id; thread-safe, with a bounded cache of answers (never of misses)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._cache: OrderedDict[str, SentMessage] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, message_id: str) -> SentMessage | None:
        """The message, or None when neither the warehouse nor the ledger knows it. Eager."""
        with self._lock:
            hit = self._cache.get(message_id)
            if hit is not None:
                self._cache.move_to_end(message_id)
                return hit
        found = self._from_warehouse(message_id) or self._from_ledger(message_id)
        if found is not None:
            with self._lock:
                self._cache[message_id] = found
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return found

    # ------------------------------------------------------------------ the published warehouse

    def _from_warehouse(self, message_id: str) -> SentMessage | None:
        con = warehouse.connect(self.project)
        try:
            row = con.execute(
                "select m.run_id, m.recipient_id, coalesce(m.profile_id, ''), m.channel, m.delivery_id, s.topic,"
                " s.run_id is not null from message_sends m left join send_lists s"
                " on s.run_id = m.run_id and s.recipient_id = m.recipient_id where m.message_id = ?",
                [message_id],
            ).fetchone()
        except duckdb.CatalogException:
            row = None  # a warehouse built before the ledger mart existed
        finally:
            con.close()
        if row is None:
            return None
        run_id, recipient_id, profile_id, channel, delivery_id, topic, listed = (str(v) if v else "" for v in row)
        return SentMessage(
            message_id,
            run_id,
            recipient_id,
            profile_id,
            channel,
            delivery_id,
            (topic or None) if listed else self._topic(run_id, recipient_id, delivery_id),
        )

    # ------------------------------------------------------------------ the ledger

    def _from_ledger(self, message_id: str) -> SentMessage | None:
        folder = self.project.ledger_dir
        if not folder.is_dir():
            return None
        runs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
        # Newest runs first: a link is most often clicked soon after its message was sent.
        for run in sorted(runs, key=_mtime, reverse=True):
            entry = _entry_in(run, message_id)
            if entry is not None:
                return SentMessage(
                    message_id,
                    entry.run_id,
                    entry.recipient_id,
                    entry.profile_id,
                    entry.channel,
                    entry.delivery_id,
                    self._topic(entry.run_id, entry.recipient_id, entry.delivery_id),
                )
        return None

    def _topic(self, run_id: str, recipient_id: str, delivery_id: str) -> str | None:
        """The topic the message was sent under: its send-list row's, else its delivery's in the plan."""
        con = warehouse.connect(self.project)
        try:
            row = con.execute(
                "select topic from send_lists where run_id = ? and recipient_id = ?", [run_id, recipient_id]
            ).fetchone()
        finally:
            con.close()
        if row is not None:
            return str(row[0]) if row[0] else None
        try:
            return Catalog.of(self.project).delivery(delivery_id).delivery.topic
        except HeraldError:
            return None  # the delivery left the plans: its messages go out under no topic in particular


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _entry_in(run: Path, message_id: str) -> ledger.Entry | None:
    try:
        shards = int(json.loads((run / "plan.json").read_text(encoding="utf-8"))["shards"])
        data = (run / f"shard-{ledger.shard_of(message_id, shards):03d}.jsonl").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not a run a sender started, or one being set up right now
    needle = f'"message_id":"{message_id}"'.encode()
    if needle not in data:
        return None
    for raw in data.splitlines():
        if needle in raw:
            try:
                return ledger.Entry(**json.loads(raw))
            except (ValueError, TypeError):
                continue  # a line torn by a kill: another line of the message will do
    return None
