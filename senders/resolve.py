"""Settle the messages a run left ``unknown``: first from provider events already landed, then by an operator.

An ``unknown`` message was claimed, and the sender stopped (or the call timed out) before the provider's answer
was recorded: it may or may not have gone out, so the sender never re-sends it blindly. Without the provider's
Email Activity add-on nothing settles it by itself. Two deliberate ways out:

1. **Provider events** already landed (``herald ingest flush`` lands what the tracking server received): any
   event that names the message (processed, delivered, open, bounce, queued, sent, …) proves the provider had
   it, so it is settled as ``accepted``. Safe: nobody has to decide anything.
2. **An operator's decision** for what is left and older than a threshold: ``not-sent`` releases the messages
   (the next ``herald send`` claims and sends them), ``sent`` settles them as accepted, ``failed`` gives up on
   them. The entry records who decided, when and why.

Writes go through the shard locks like a sender's, so resolving never races a running sender: a shard a sender
holds is skipped and reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import duckdb

from herald import clock
from herald.project import Project
from senders import ledger
from senders.errors import LedgerError

Decision = Literal["not-sent", "sent", "failed"]
DECISIONS: tuple[Decision, ...] = ("not-sent", "sent", "failed")
_STATE_OF: Mapping[Decision, ledger.State] = {"not-sent": "released", "sent": "accepted", "failed": "failed"}
# The landed provider events that carry Herald's message id (SendGrid's and the SMS/push providers').
_EVENT_TABLES = ("esp_events", "channel_events")


@dataclass(frozen=True, slots=True)
class Resolution:
    """What one resolve did: messages settled from events, decided by the operator, left alone, shards skipped."""

    run_id: str
    from_events: int
    decided: int
    still_unknown: int
    busy_shards: tuple[int, ...] = ()


def unknown_messages(project: Project, run_id: str) -> list[ledger.Entry]:
    """The run's messages whose latest entry is ``unknown``, oldest first."""
    latest = ledger.read_run(project, run_id)
    return sorted((e for e in latest.values() if e.state == "unknown"), key=lambda e: e.at)


def provider_evidence(project: Project, message_ids: Iterable[str]) -> dict[str, str]:
    """Message id → the first landed provider event that names it (``"delivered at 2026-11-28 09:00:01"``)."""
    wanted = sorted(set(message_ids))
    if not wanted:
        return {}
    files = [str(p) for table in _EVENT_TABLES for p in sorted((project.landing_dir / table).glob("*.parquet"))]
    if not files:
        return {}
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select message_id, arg_min(event, occurred_at), min(occurred_at) "
            "from read_parquet(?, union_by_name = true) where message_id in (select unnest(?)) group by message_id",
            [files, wanted],
        ).fetchall()
    finally:
        con.close()
    return {str(m): f"{event} at {at:%Y-%m-%d %H:%M:%S}" for m, event, at in rows}


def resolve_unknown(
    project: Project,
    run_id: str,
    *,
    by: str,
    decision: Decision | None = None,
    older_than: dt.timedelta = dt.timedelta(hours=2),
    reason: str = "",
) -> Resolution:
    """Settle the run's unknown messages from landed provider events; then, with a ``decision``, settle those
    still unknown whose last entry is older than ``older_than`` as the operator ``by`` decided."""
    if not by.strip():
        raise LedgerError("say who decides (--by)")
    unknown = unknown_messages(project, run_id)
    if not unknown:
        return Resolution(run_id, 0, 0, 0)
    evidence = provider_evidence(project, (e.message_id for e in unknown))
    cutoff = clock.now() - older_than
    shards = ledger.shard_count(project, run_id, 1)
    from_events = decided = 0
    busy: list[int] = []
    at = ledger.now()
    for index in range(shards):
        shard = ledger.Shard(project, run_id, index)
        if not shard.try_lock():
            busy.append(index)
            continue
        with shard:
            entries = []
            for m, last in shard.last.items():
                if last.state != "unknown":
                    continue  # settled since it was read, or by the sender that held this shard
                if m in evidence:
                    entries.append(last.follow("accepted", reason=f"settled from provider event: {evidence[m]}", at=at))
                    from_events += 1
                elif decision is not None and dt.datetime.fromisoformat(last.at) <= cutoff:
                    why = f"resolved as {decision} by {by.strip()}" + (f": {reason.strip()}" if reason.strip() else "")
                    entries.append(last.follow(_STATE_OF[decision], reason=why, at=at))
                    decided += 1
            shard.append(entries)
    return Resolution(run_id, from_events, decided, len(unknown_messages(project, run_id)), tuple(busy))


def parse_age(text: str) -> dt.timedelta:
    """``90m``, ``2h``, ``1d`` (or a bare number of hours) as a duration; ValueError naming the value otherwise."""
    value = text.strip().lower()
    units = {"m": 60, "h": 3600, "d": 86400}
    number, unit = (value[:-1], value[-1]) if value and value[-1] in units else (value, "h")
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not an age such as 90m, 2h or 1d") from None
    seconds = amount * units[unit]
    if not 0 <= seconds <= 366 * 86400:
        raise ValueError(f"{text!r} is out of range (0 to a year)")
    return dt.timedelta(seconds=seconds)
