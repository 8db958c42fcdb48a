"""Double opt-in for the subscription forms: pending subscriptions, the confirmation email, the confirmation.

Pending subscriptions are plain files under the warehouse folder, never a DuckDB file, so the server never
waits for a build and a build never waits for it:

    warehouse/subscriptions/<form>/
    ├── <address key>.lock     flock held while one request handles the address (kernel-released on death)
    └── <address key>.jsonl    journal, fsynced line by line: submitted → claimed → sent | failed | unknown;
                               confirmed

The address key is a hash of the form and the normalized address. A submission within the form's duplicate
window of a pending one sends nothing; otherwise a new subscription is journaled and its email goes through the
exactly-once protocol of every message (``senders.exactly_once``): ``claimed`` (durable *before* the provider
call), then sent, without retries (the visitor is waiting and may simply submit again). A claim without an
outcome, or an ambiguous provider answer the provider cannot settle, counts as sent: a confirmation email is never
sent twice for one subscription; after ``failed`` (surely not sent) the next submission tries again.

Contacts: an address no profile has becomes a new CRM contact on submission, under an external key derived
from the form and the address. An address a profile already has is matched to that contact, and the
submitted fields update it only once the address is confirmed, so nobody can change someone else's contact
by typing their address. Confirming lands the opt-in (source ``web_form``; evidence ``form:<form>/<id>``,
whose journal keeps submission time and IP, confirmation time and IP; ``occurred_at`` is the confirmation
time, ``ip_address`` the submission's).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from herald import warehouse
from herald.campaigns.plans import Delivery
from herald.content.render import Renderer
from herald.landing import land_batch, table_dir
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS
from senders import ledger
from senders.compose import Composer, Recipient
from senders.dispatch import Gate, RetryPolicy
from senders.errors import SenderError
from senders.exactly_once import ExactlyOnce, Stamp
from senders.links import Links
from senders.providers import open_provider
from senders.providers.base import Provider
from senders.providers.pool import ProviderPool
from senders.tracking.consents import ConsentEvent, event_id, land_events
from senders.tracking.forms import CONTACT_FIELDS, FormSpec

log = logging.getLogger("herald.tracking.subscriptions")

EmailState = Literal["", "claimed", "sent", "failed", "unknown"]
SubmitResult = Literal["sent", "duplicate", "failed"]
ConfirmResult = Literal["confirmed", "already_confirmed", "expired", "not_found"]
CONFIRM_PURPOSE = "confirm"
# One attempt: a 5xx or a 429 fails the email at once (surely not sent), so the visitor can simply ask again.
POLICY = RetryPolicy(max_attempts=1, max_rate_limit_waits=0)
# The subscription journal's event for each ledger state of the email.
_EVENT_OF: Mapping[str, EmailState] = {
    "claimed": "claimed",
    "accepted": "sent",
    "failed": "failed",
    "released": "failed",
    "unknown": "unknown",
}


@dataclass(frozen=True, slots=True)
class Pending:
    """One subscription as its journal tells it; equal when every field is equal."""

    subscription_id: str
    form: str
    email: str
    external_key: str
    is_new_contact: bool
    fields: Mapping[str, str] = field(default_factory=dict)
    ip: str = ""
    submitted_at: float = 0.0
    expires_at: float = 0.0
    email_state: EmailState = ""
    confirmed_at: float | None = None


def address_key(form: str, email: str) -> str:
    return hashlib.sha256(f"{form}\x1f{email}".encode()).hexdigest()[:24]


def new_contact_key(form: str, email: str) -> str:
    """The external key of a contact a form creates: the same for the same form and address, every time."""
    digest = hashlib.sha256(f"{form}\x1f{email}".encode()).hexdigest()
    return f"web-{form}-{digest[:16]}"


class SubscriptionJournal:
    """The files of one project's pending subscriptions."""

    def __init__(self, project: Project) -> None:
        self.root = project.warehouse_dir / "subscriptions"

    def _folder(self, form: str) -> Path:
        folder = self.root / form
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextmanager
    def locked(self, form: str, key: str) -> Iterator[None]:
        """Hold the address's lock: one request at a time per address, across threads and processes."""
        fd = os.open(self._folder(form) / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def append(self, form: str, key: str, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        fd = os.open(self._folder(form) / f"{key}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, form: str, key: str) -> dict[str, Pending]:
        """Every subscription of the address on this form, oldest first (a torn last line is ignored)."""
        path = self.root / form / f"{key}.jsonl"
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:
            return {}
        found: dict[str, Pending] = {}
        for raw in lines:
            try:
                r = json.loads(raw)
                sid = str(r["subscription_id"])
            except (ValueError, KeyError, TypeError):
                continue
            event = r.get("event")
            if event == "submitted":
                found[sid] = Pending(
                    sid,
                    form,
                    str(r["email"]),
                    str(r["external_key"]),
                    bool(r["is_new_contact"]),
                    dict(r.get("fields") or {}),
                    str(r.get("ip") or ""),
                    float(r["at"]),
                    float(r["expires_at"]),
                )
            elif sid in found and event in ("claimed", "sent", "failed", "unknown"):
                p = found[sid]
                # claimed → an outcome; an outcome never goes back to claimed
                if p.email_state in ("", "claimed"):
                    found[sid] = _replace(p, email_state=event)
            elif sid in found and event == "confirmed":
                found[sid] = _replace(found[sid], confirmed_at=float(r["at"]))
        return found


class _EmailBook:
    """A subscription's confirmation email as the exactly-once protocol journals it (a ``Journal``): its ledger
    states become the subscription journal's events, fsynced line by line. The address's lock is held by the
    submission throughout."""

    def __init__(self, journal: SubscriptionJournal, p: Pending, key: str, at: float) -> None:
        self.journal, self.pending, self.key, self.at = journal, p, key, at
        self._latest: ledger.Entry | None = None

    def held(self) -> AbstractContextManager[_EmailBook]:
        return contextlib.nullcontext(self)

    def latest(self, message_id: str) -> ledger.Entry | None:
        return self._latest

    def append(self, entries: Iterable[ledger.Entry], *, sync: bool = True) -> None:
        for e in entries:
            record = _event(self.pending, _EVENT_OF[e.state], self.at)
            if e.state != "claimed":
                record["detail"] = e.provider_id if e.state == "accepted" else e.reason
            self.journal.append(self.pending.form, self.key, record)
            self._latest = e


def _replace(p: Pending, **changes: Any) -> Pending:
    values = {f: getattr(p, f) for f in p.__slots__}
    values.update(changes)
    return Pending(**values)


class Subscriptions:
    """Submissions and confirmations of every form of one server. Thread-safe; every call is eager."""

    def __init__(self, project: Project, links: Links, env: Mapping[str, str], renderer: Renderer) -> None:
        self.project = project
        self.links = links
        self.env = env
        self.renderer = renderer
        self.journal = SubscriptionJournal(project)
        self.gate = Gate()

    # ------------------------------------------------------------------ submitting

    def submit(self, spec: FormSpec, values: Mapping[str, str], *, ip: str, now: float) -> SubmitResult:
        """Record a checked submission and send its confirmation email, at most once per subscription."""
        email = values["email"]
        key = address_key(spec.name, email)
        with self.journal.locked(spec.name, key):
            history = self.journal.read(spec.name, key)
            latest = max(history.values(), key=lambda p: p.submitted_at, default=None)
            if (
                latest is not None
                and latest.email_state != "failed"
                and now - latest.submitted_at < spec.duplicate_window_seconds
            ):
                return "duplicate"
            match = self._match(email)
            pending = Pending(
                subscription_id=secrets.token_hex(10),
                form=spec.name,
                email=email,
                external_key=match or new_contact_key(spec.name, email),
                is_new_contact=match is None,
                fields=dict(values),
                ip=ip,
                submitted_at=now,
                expires_at=now + spec.confirm_expiry_seconds,
            )
            providers = ProviderPool(lambda: self._open_provider(spec))
            once = self._sender(spec, providers)
            decision = once.decide(self._recipient(spec, pending, key))  # a template error fails before anything
            if pending.is_new_contact:
                self._land_contact(spec, pending, now, existing=None)
            self.journal.append(spec.name, key, _submitted(pending))
            try:
                sent = once.send_one(_EmailBook(self.journal, pending, key, now), decision, seen=None).entry
                state, detail = _EVENT_OF[sent.state], sent.reason
            except SenderError as exc:  # no API key, a bad host, a refused account: released, surely not sent
                state, detail = "failed", str(exc)
            finally:
                providers.close()
        if state == "failed":
            log.warning("confirmation email of form %s not sent: %s", spec.name, detail)
            return "failed"
        return "sent"

    def confirm_url(self, form: str, key: str, subscription_id: str) -> str:
        token = self.links.scoped_token(CONFIRM_PURPOSE, f"{form}-{key}-{subscription_id}")
        return f"{self.links.public_url}/confirm/{token}"

    def _match(self, email: str) -> str | None:
        """The external key of the published contact with this address (the profile's own first)."""
        con = warehouse.connect(self.project)
        try:
            row = con.execute(
                "select external_key from profile_identities where email = ?"
                " order by is_survivor desc, external_key limit 1",
                [email],
            ).fetchone()
        finally:
            con.close()
        return str(row[0]) if row else None

    def _recipient(self, spec: FormSpec, p: Pending, key: str) -> Recipient:
        """The subscriber, with what the confirmation template sees: the name fields given and the link."""
        values: dict[str, Any] = {
            k: v for k, v in p.fields.items() if k in ("first_name", "last_name", "language_code")
        }
        values.update(
            confirm_url=self.confirm_url(spec.name, key, p.subscription_id),
            form_title=spec.title,
            expires_hours=round(spec.confirm_expiry_seconds / 3600),
            email=p.email,
        )
        return Recipient(f"c{p.subscription_id}", key, None, p.email, "", "", values, label=f"form {spec.name}")

    def _sender(self, spec: FormSpec, providers: ProviderPool) -> ExactlyOnce:
        run = f"form-{spec.name}"
        composer = Composer(
            self.renderer,
            spec.template,
            run_id=run,
            channel="email",
            delivery_id=f"form_{spec.name}",
            links=self.links,
            context={},
            list_unsubscribe=False,  # nothing to opt out of yet
        )
        stamp = Stamp(run, "email", f"form_{spec.name}", composer.spec.content_hash)
        return ExactlyOnce(stamp, composer, providers.get, gate=self.gate, policy=POLICY)

    def _open_provider(self, spec: FormSpec) -> Provider:
        delivery = Delivery(
            id=f"form_{spec.name}",
            channel="email",
            audience="",
            template=spec.template,
            typology="",
            topic=spec.topic,
            sender=spec.sender,
        )
        return open_provider(delivery, project=self.project, run_id=f"form-{spec.name}", campaign_id="", env=self.env)

    # ------------------------------------------------------------------ confirming

    def pending(self, token: str) -> Pending | None:
        """The subscription a confirmation token names, or None (forged, or unknown here)."""
        value = self.links.verify_scoped(CONFIRM_PURPOSE, token)
        if value is None or value.count("-") < 2:
            return None
        form, key, sid = value.rsplit("-", 2)
        if not form or "/" in form or form.startswith("."):
            return None
        return self.journal.read(form, key).get(sid)

    def confirm(self, spec: FormSpec, p: Pending, *, ip: str, now: float) -> ConfirmResult:
        """Opt the subscription in (once): lands the contact update and the opt-in, then journals it."""
        key = address_key(p.form, p.email)
        with self.journal.locked(p.form, key):
            current = self.journal.read(p.form, key).get(p.subscription_id)
            if current is None:
                return "not_found"
            if current.confirmed_at is not None:
                return "already_confirmed"
            if now > current.expires_at:
                return "expired"
            if not current.is_new_contact:
                self._land_contact(spec, current, now, existing=self._latest_contact(current.external_key))
            at = _utc(now)
            land_events(
                self.project,
                [
                    ConsentEvent(
                        consent_event_id=event_id("form", p.form, p.subscription_id),
                        external_key=current.external_key,
                        channel=spec.channel,
                        topic=spec.topic,
                        status="opt_in",
                        source="web_form",
                        evidence_id=f"form:{p.form}/{p.subscription_id}",
                        ip_address=current.ip or None,
                        occurred_at=at,
                    )
                ],
                source_file=f"herald-serve/forms/{p.form}",
            )
            self.journal.append(p.form, key, {**_event(current, "confirmed", now), "ip": ip})
        return "confirmed"

    # ------------------------------------------------------------------ contacts

    def _latest_contact(self, external_key: str) -> dict[str, Any] | None:
        """The contact's latest landed version (read from the immutable batches, no database lock)."""
        pattern = str(table_dir(self.project, CRM_CONTACTS) / "*.parquet")
        columns = ", ".join(CRM_CONTACTS.column_names)
        con = duckdb.connect()
        try:
            rel = con.execute(
                f"select {columns} from read_parquet(?, union_by_name = true) where external_key = ?"
                " order by _loaded_at desc, _batch_id desc, _line_number desc limit 1",
                [pattern, external_key],
            )
            row = rel.fetchone()
            names = [d[0] for d in rel.description or []]
        finally:
            con.close()
        return dict(zip(names, row, strict=True)) if row else None

    def _land_contact(self, spec: FormSpec, p: Pending, now: float, *, existing: Mapping[str, Any] | None) -> None:
        """Create the contact, or update it with what the form asked (a landed version replaces the whole
        contact, so an update starts from the latest version and changes only the fields given)."""
        at = _utc(now)
        row: dict[str, Any] = dict(existing or {})
        attributes = _json_object(row.get("attributes"))
        changed = existing is None
        for name, value in p.fields.items():
            if name == "email" and existing is not None:
                continue  # matched by this very address: keep it as the CRM wrote it
            if name in CONTACT_FIELDS:
                typed: Any = dt.date.fromisoformat(value) if name == "birth_date" else value
                changed |= row.get(name) != typed
                row[name] = typed
            elif attributes.get(name) != value:
                attributes[name] = value
                changed = True
        if not changed:
            return
        if existing is None:
            attributes.setdefault("signup_form", spec.name)
            row["created_at"] = at
        row.update(external_key=p.external_key, attributes=json.dumps(attributes, ensure_ascii=False), updated_at=at)
        land_batch(
            self.project,
            CRM_CONTACTS,
            pa.Table.from_pylist([{c: row.get(c) for c in CRM_CONTACTS.column_names}]),
            source_file=f"herald-serve/forms/{spec.name}",
        )


def _json_object(value: object) -> dict[str, Any]:
    try:
        parsed = json.loads(str(value)) if value else {}
    except ValueError:
        return {}
    return dict(parsed) if isinstance(parsed, dict) else {}


def _submitted(p: Pending) -> dict[str, Any]:
    return {
        "event": "submitted",
        "subscription_id": p.subscription_id,
        "at": p.submitted_at,
        "email": p.email,
        "external_key": p.external_key,
        "is_new_contact": p.is_new_contact,
        "fields": dict(p.fields),
        "ip": p.ip,
        "expires_at": p.expires_at,
    }


def _event(p: Pending, event: str, at: float) -> dict[str, Any]:
    return {"event": event, "subscription_id": p.subscription_id, "at": at}


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)
