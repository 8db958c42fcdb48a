"""Who may no longer receive a message, re-checked when each message is claimed, not only at preparation.

Three sources, newest last:
1. the published warehouse now (``profile_consents``, ``address_quarantines``): it may be newer than the build
   the run was prepared on;
2. the landing zone's batches that arrived after that published build (``consent_events`` opt-outs, and the
   email provider's unsubscribes, spam reports and hard bounces in ``esp_events``), read as they appear, so an
   unsubscribe that lands during a send stops the very next claim;
3. for email, the Event Webhook's spool (``senders.tracking.spool``): events acknowledged to SendGrid but not
   compacted into a landing batch yet, so an unsubscribe received a second ago counts too. Only the lines
   appended since the previous refresh are read, and only lines naming one of those events are decoded.

Reading never locks anything: the warehouse is opened read-only, landing batches are immutable files, and spool
segments are only appended to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import duckdb

from herald import warehouse
from herald.landing import table_dir
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS, ESP_EVENTS
from senders.tracking.normalize import suppresses
from senders.tracking.spool import SpoolTail

# A spool line is decoded only if it holds one of these (a whole 1,000-event batch is one line).
_SUPPRESSING_WORDS = (b'"unsubscribe"', b'"spamreport"', b'"bounce"')


class Suppressions:
    """Suppressed profiles and addresses for one channel and topic; ``refresh`` picks up new landing batches."""

    def __init__(self, project: Project, *, channel: str, topic: str | None, consent: bool = True) -> None:
        self.project = project
        self.channel = channel
        self.topics = [t for t in (topic, "all") if t]
        self.consent = consent  # False for service messages: opt-outs do not apply, quarantines still do
        self.profiles: set[str] = set()
        self.addresses: set[str] = set()
        self._reasons: dict[str, str] = {}
        self._seen: set[Path] = set()
        self._identity: dict[str, str] = {}
        self._cutoff = ""
        self._opted: dict[str, tuple[str, str]] = {}  # external key → (occurred_at, status) of landed events
        self._spool = SpoolTail(project, ESP_EVENTS) if channel == "email" else None
        self._load_published()
        self.refresh()

    def _load_published(self) -> None:
        con = warehouse.connect(self.project)
        try:
            row = con.execute("select batch_cutoff from herald_meta.build_info").fetchone()
            self._cutoff = str(row[0]) if row and row[0] else ""
            marks = ", ".join("?" for _ in self.topics)
            for (pid,) in con.execute(
                # Latest wins between the topic and 'all', as the consent mart decides.
                f"select profile_id from profile_consents where channel = ? and topic in ({marks})"
                " group by profile_id having not arg_max(is_opted_in, status_since)",
                [self.channel, *self.topics],
            ).fetchall():
                self._suppress_profile(str(pid), "opted_out")
            for (address,) in con.execute(
                "select address from address_quarantines where channel = ? and is_quarantined", [self.channel]
            ).fetchall():
                self._suppress_address(str(address), "quarantined")
            self._identity = {
                str(k): str(p)
                for k, p in con.execute("select external_key, profile_id from profile_identities").fetchall()
            }
        finally:
            con.close()

    def _suppress_profile(self, profile_id: str, reason: str) -> None:
        self.profiles.add(profile_id)
        self._reasons.setdefault(f"p:{profile_id}", reason)

    def _suppress_address(self, address: str, reason: str) -> None:
        key = address.strip().lower()
        self.addresses.add(key)
        self._reasons.setdefault(f"a:{key}", reason)

    def _new_files(self, folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        fresh = [p for p in folder.glob("*.parquet") if p not in self._seen and p.stem > self._cutoff]
        self._seen.update(fresh)
        return sorted(fresh)

    def refresh(self) -> int:
        """Read landing batches and spool lines that appeared since the last call; returns how many files and
        spool lines were read."""
        spooled = self._read_spool()
        consent = self._new_files(table_dir(self.project, CONSENT_EVENTS))
        esp = self._new_files(table_dir(self.project, ESP_EVENTS)) if self.channel == "email" else []
        if not consent and not esp:
            return spooled
        con = duckdb.connect()
        try:
            if consent:
                rows = con.execute(
                    "select external_key, status, cast(occurred_at as varchar) from read_parquet(?)"
                    " where channel = ? and topic in (select unnest(?))",
                    [_paths(consent), self.channel, self.topics],
                ).fetchall()
                for key, status, occurred in rows:
                    previous = self._opted.get(key)
                    if previous is None or occurred >= previous[0]:
                        self._opted[key] = (occurred, status)
                for key, (_, status) in self._opted.items():
                    pid = self._identity.get(key)
                    if status == "opt_out" and pid is not None:
                        self._suppress_profile(pid, "opted_out_since_preparation")
                    elif (
                        status == "opt_in"
                        and pid is not None
                        and self._reasons.get(f"p:{pid}") == ("opted_out_since_preparation")
                    ):
                        self.profiles.discard(pid)  # re-subscribed after a landed opt-out
                        self._reasons.pop(f"p:{pid}", None)
            if esp:
                for email, event in con.execute(
                    "select email, event from read_parquet(?) where email is not null"
                    " and (event in ('unsubscribe', 'spamreport') or (event = 'bounce' and bounce_type = 'bounce'))",
                    [_paths(esp)],
                ).fetchall():
                    reason = "quarantined_since_preparation" if event == "bounce" else "opted_out_since_preparation"
                    self._suppress_address(str(email), reason)
        finally:
            con.close()
        return len(consent) + len(esp) + spooled

    def _read_spool(self) -> int:
        if self._spool is None:
            return 0
        lines = self._spool.new_lines()
        for line in lines:
            if not any(word in line for word in _SUPPRESSING_WORDS):
                continue
            try:
                events = json.loads(line)
            except ValueError:
                continue
            for event in events if isinstance(events, list) else [events]:
                if isinstance(event, dict) and isinstance(event.get("email"), str) and suppresses(event):
                    kind = str(event.get("event", "")).strip().lower()
                    reason = "quarantined_since_preparation" if kind == "bounce" else "opted_out_since_preparation"
                    self._suppress_address(event["email"], reason)
        return len(lines)

    def reason(self, profile_id: str | None, address: str) -> str | None:
        """Why this recipient must not get the message now, or None when it may."""
        if self.consent and profile_id and profile_id in self.profiles:
            return self._reasons.get(f"p:{profile_id}", "opted_out")
        key = address.strip().lower()
        if key in self.addresses:
            return self._reasons.get(f"a:{key}", "quarantined")
        return None


def _paths(files: Iterable[Path]) -> list[str]:
    return [str(p) for p in files]
