"""Who a transactional message goes to and whether it may go now: profiles and addresses from the published
warehouse (``Directory``), consent and quarantine (``Gatekeeper``)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from herald import warehouse
from herald.project import Project
from senders.suppression import Suppressions
from senders.tracking.consents import ALL, ConsentBook
from senders.tracking.transactional_answers import Refused
from senders.tracking.transactional_specs import PROFILE_FIELDS, MessageType


@dataclass(frozen=True, slots=True)
class Target:
    """Who a message goes to: the profile (when known), the channel address and the values a template sees. Equal
    when every field is equal."""

    recipient_id: str
    profile_id: str | None
    address: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


class Directory:
    """Profiles and their addresses from the published warehouse; one read-only connection per build."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._con: duckdb.DuckDBPyConnection | None = None

    def build(self) -> Path:
        return warehouse.current_path(self.project)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        path = self.build()
        with self._lock:
            if path != self._path or self._con is None:
                # The previous build's connection is dropped, not closed: requests may still hold its cursors.
                self._con, self._path = warehouse.connect(self.project, path), path
            return self._con.cursor()

    def resolve(self, message_type: MessageType, recipient: Mapping[str, Any]) -> Target:
        """The target of ``recipient`` (``profile_id`` | ``external_key``, and/or ``address``); Refused (422)
        naming the field when it cannot be resolved."""
        profile_id = recipient.get("profile_id")
        key = recipient.get("external_key")
        address = recipient.get("address")
        channel = message_type.channel
        if profile_id is None and key is None:
            if message_type.consent_required or channel == "in_app":
                why = "consent is checked per profile" if message_type.consent_required else "the inbox is a profile's"
                raise Refused(
                    422, "a profile is required", fields={"recipient": f"name a profile_id or external_key: {why}"}
                )
            assert isinstance(address, str)
            return Target("a-" + hashlib.sha256(address.strip().lower().encode()).hexdigest()[:24], None, address)
        cur = self.cursor()
        try:
            if profile_id is not None:
                row = cur.execute(
                    "select profile_id, email, phone, first_name, last_name, language_code from profiles"
                    " where profile_id = ?",
                    [profile_id],
                ).fetchone()
                where = "recipient.profile_id"
            else:
                row = cur.execute(
                    "select p.profile_id, p.email, p.phone, p.first_name, p.last_name, p.language_code"
                    " from profile_identities i join profiles p using (profile_id) where i.external_key = ?",
                    [key],
                ).fetchone()
                where = "recipient.external_key"
            if row is None:
                raise Refused(422, "no such profile", fields={where: "no published profile has it"})
            pid = str(row[0])
            if address is None:
                if channel == "email":
                    address = row[1]
                elif channel == "sms":
                    address = row[2]
                elif channel == "push":
                    token = cur.execute(
                        "select token from push_devices where profile_id = ? and is_active"
                        " order by registered_at desc, device_id limit 1",
                        [pid],
                    ).fetchone()
                    address = token[0] if token else None
                else:
                    address = pid
        finally:
            cur.close()
        if not address:
            raise Refused(422, "no address", fields={"recipient": f"the profile has no {channel} address; give one"})
        attributes = {k: v for k, v in zip(PROFILE_FIELDS, row[3:6], strict=True) if v is not None}
        return Target(pid, pid, str(address), attributes)


class Gatekeeper:
    """Who may not get a message now: quarantines always, opt-outs and missing opt-ins when consent is
    required. ``senders.suppression.Suppressions`` (published marts, newer landing batches, the spool) per
    channel and topic, kept per published build and refreshed before every check; ``ConsentBook`` for the
    positive opt-in a send list would require."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.book = ConsentBook(project)
        self._lock = threading.Lock()
        self._build: Path | None = None
        self._suppressions: dict[tuple[str, str | None, bool], Suppressions] = {}

    def reason(self, message_type: MessageType, profile_id: str | None, address: str, build: Path) -> str | None:
        """Why the profile (or the address alone) must not get a message of this type now, or None."""
        key = (message_type.channel, message_type.topic, message_type.consent_required)
        with self._lock:
            if build != self._build:
                self._build, self._suppressions = build, {}
            suppressions = self._suppressions.get(key)
            if suppressions is None:
                suppressions = Suppressions(self.project, channel=key[0], topic=key[1], consent=key[2])
                self._suppressions[key] = suppressions
            else:
                suppressions.refresh()
            reason = suppressions.reason(profile_id, address)
        if reason is not None and not message_type.consent_required and not reason.startswith("quarantined"):
            reason = None  # an unsubscribe or a complaint does not stop a service message; a bounce does
        if reason is None and message_type.consent_required and profile_id is not None:
            consents = self.book.of(profile_id)
            topic = message_type.topic or ALL
            allowed = (
                not consents.blocked(message_type.channel, ALL)
                if topic == ALL
                else consents.subscribed(message_type.channel, topic)
            )
            if not allowed:
                reason = "no_consent"
        return reason


class TypeScreen:
    """The gatekeeper's verdicts for one message type on one published build, as the exactly-once protocol asks."""

    def __init__(self, gatekeeper: Gatekeeper, message_type: MessageType, build: Path) -> None:
        self.gatekeeper, self.message_type, self.build = gatekeeper, message_type, build

    def reason(self, profile_id: str | None, address: str) -> str | None:
        return self.gatekeeper.reason(self.message_type, profile_id, address, self.build)

    def refresh(self) -> int:
        return 0  # the gatekeeper refreshes before every verdict
