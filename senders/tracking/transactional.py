"""Transactional messages: ``POST /messages/{event}`` renders and sends one message now, exactly once.

    POST /messages/order_confirmation
    Authorization: Bearer $HERALD_API_TOKEN
    {"recipient": {"profile_id": "p-42"}, "payload": {"order_id": "A-1001", ...}, "idempotency_key": "A-1001"}

The type comes from ``specs/transactional/<event>.yml`` (``senders.tracking.transactional_specs``); the message
is rendered by ``herald.content``'s renderer, journaled in the send ledger
(``senders.tracking.transactional_journal``) and sent through the channel's provider with the bulk sender's
retry rules (``senders.dispatch``). No fatigue rules apply; quarantined addresses are never sent to, and a type
that requires consent is sent only to a profile subscribed to its topic with no opt-out since (published
warehouse, newer landing batches and the webhook spool: ``senders.suppression``).

Exactly once: the message id is a hash of (event, idempotency key), or of (event, recipient, payload) without a
key, and a ``claimed`` entry is fsynced before the provider call. A request for an id the ledger already has
answers what happened to it (``replay: true``) instead of sending: settled → the same outcome; ``unknown`` or a
claim whose writer died → the provider is asked (found → accepted, surely absent → sent now, cannot tell →
still unknown); retryable failure → sent again. Within a process one request per message id runs at a time.

    200 / 202   {"message_id", "event", "run_id", "state": accepted|failed|suppressed, "provider_id", "replay",
                 "reason", "timing_ms": {...}}          202 when this request handed it to the provider
    400 / 413   not a JSON object / over 64 KiB           401 missing or wrong token
    404         no such message type                      409 the same message is being sent by another process
    422         {"error", "fields": {"payload.total": "must be a number, not a string"}}
    502 / 503   provider 5xx after retries / provider 429, refused credentials, no API token or no warehouse
    504         the provider may have it and cannot say yet (``unknown``): retry with the same key later
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald import clock, warehouse
from herald.campaigns.plans import Delivery
from herald.content.render import Renderer
from herald.errors import TemplateError, WarehouseNotReady
from herald.project import Project
from senders import dispatch, ledger
from senders.compose import with_preheader
from senders.errors import SenderError
from senders.providers import open_provider
from senders.providers.base import (
    AccountRejected,
    Doubt,
    Outcome,
    OutgoingMessage,
    Provider,
    ProviderFault,
    RateLimited,
)
from senders.suppression import Suppressions
from senders.tracking.consents import ALL, ConsentBook
from senders.tracking.context import ServeContext
from senders.tracking.guards import bearer_refusal
from senders.tracking.transactional_journal import TransactionalJournal, run_id
from senders.tracking.transactional_specs import PROFILE_FIELDS, MessageType, load_message_types

log = logging.getLogger("herald.tracking.transactional")

MAX_BODY_BYTES = 64 * 1024
MAX_KEY_CHARS = 255
UNKNOWN_RETRY_AFTER = 30  # seconds: a provider's lookup (SendGrid's Activity feed) lags behind its sends
FAILED_RETRY_AFTER = 10
# Fast, few retries: a caller is waiting, and retries with the same key are safe.
POLICY = dispatch.RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.5, max_rate_limit_waits=0)
_HOST = socket.gethostname()


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request gets: an HTTP status and a JSON body, plus headers (Retry-After)."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class Refused(Exception):
    """A request that cannot be served as it is; carries its answer."""

    def __init__(self, status: int, error: str, *, fields: Mapping[str, str] | None = None, retry_after: int = 0):
        super().__init__(error)
        body: dict[str, Any] = {"error": error}
        if fields:
            body["fields"] = dict(fields)
        self.answer = Answer(status, body, {"Retry-After": str(retry_after)} if retry_after else {})


@dataclass(frozen=True, slots=True)
class Target:
    """Who a message goes to: the profile (when known), the channel address and the values a template sees."""

    recipient_id: str
    profile_id: str | None
    address: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


def message_id_for(event: str, idempotency_key: str | None, recipient: Mapping[str, Any], payload: Any) -> str:
    """The message's id: from (event, key), or from (event, recipient, payload) without a key. Hex after one
    letter, like the bulk ids (``senders.ledger.shard_of`` reads it)."""
    if idempotency_key:
        basis = f"{event}\x1fkey\x1f{idempotency_key}"
    else:
        canonical = json.dumps([recipient, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        basis = f"{event}\x1fbody\x1f{canonical}"
    return "t" + hashlib.sha256(basis.encode()).hexdigest()[:31]


# ---------------------------------------------------------------------------------------------------- warehouse


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

    def reason(self, message_type: MessageType, target: Target, build: Path) -> str | None:
        """Why ``target`` must not get a message of this type now, or None."""
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
            reason = suppressions.reason(target.profile_id, target.address)
        if reason is not None and not message_type.consent_required and not reason.startswith("quarantined"):
            reason = None  # an unsubscribe or a complaint does not stop a service message; a bounce does
        if reason is None and message_type.consent_required and target.profile_id is not None:
            consents = self.book.of(target.profile_id)
            topic = message_type.topic or ALL
            allowed = (
                not consents.blocked(message_type.channel, ALL)
                if topic == ALL
                else consents.subscribed(message_type.channel, topic)
            )
            if not allowed:
                reason = "no_consent"
        return reason


# ---------------------------------------------------------------------------------------------------- providers


class _Watched:
    """A provider that remembers the last fault it raised, so the answer can say how long to wait."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.max_batch = inner.max_batch
        self.last_fault: ProviderFault | None = None

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        try:
            return self.inner.send(messages)
        except ProviderFault as exc:
            self.last_fault = exc
            raise

    def lookup(
        self, message_ids: Sequence[str], *, doubts: Mapping[str, Doubt] | None = None
    ) -> Mapping[str, bool | None]:
        return self.inner.lookup(message_ids, doubts=doubts)

    def close(self) -> None:
        self.inner.close()


class Providers:
    """One provider per worker thread, message type and run (a provider keeps its connections alive)."""

    def __init__(self, project: Project, env: Mapping[str, str]) -> None:
        self.project = project
        self.env = env
        self._local = threading.local()

    def get(self, message_type: MessageType, run: str) -> _Watched:
        cache: dict[str, tuple[str, _Watched]] = self._local.__dict__.setdefault("cache", {})
        held = cache.get(message_type.event)
        if held is not None and held[0] == run:
            held[1].last_fault = None
            return held[1]
        if held is not None:
            held[1].close()
        delivery = Delivery(
            id=delivery_id(message_type.event),
            channel=message_type.channel,  # type: ignore[arg-type]
            audience="",
            template=message_type.template,
            typology="",
            topic=message_type.topic,
            sender=message_type.sender,
        )
        provider = _Watched(open_provider(delivery, project=self.project, run_id=run, campaign_id="", env=self.env))
        cache[message_type.event] = (run, provider)
        return provider


def delivery_id(event: str) -> str:
    return f"tx_{event}"


# ---------------------------------------------------------------------------------------------------- the service


class Transactional:
    """Sends transactional messages; one instance per server, thread-safe. ``send`` is eager and blocking."""

    def __init__(
        self,
        ctx: ServeContext,
        *,
        clock: Callable[[], float] = clock.timestamp,
        policy: dispatch.RetryPolicy = POLICY,
    ) -> None:
        project = ctx.project
        self.ctx = ctx
        self.renderer = Renderer(project.specs_dir / "templates")
        self.types = load_message_types(project, self.renderer)
        self.journal = TransactionalJournal(project)
        self.directory = Directory(project)
        self.gatekeeper = Gatekeeper(project)
        self.providers = Providers(project, ctx.env)
        self.gate = dispatch.Gate()
        self.policy = policy
        self.clock = clock
        self._stripes = [threading.Lock() for _ in range(1024)]

    def warm(self) -> None:
        """Open the published warehouse and load each type's suppressions; without a warehouse, nothing."""
        try:
            build = self.directory.build()
            self.directory.cursor().close()
            for mt in self.types.values():
                self.gatekeeper.reason(mt, Target("", None, ""), build)
        except (WarehouseNotReady, duckdb.Error, SenderError) as exc:
            log.info("transactional messages not warmed up: %s", exc)

    def send(self, event: str, body: Mapping[str, Any], header_key: str | None = None) -> Answer:
        started = time.perf_counter()
        message_type = self.types.get(event)
        if message_type is None:
            raise Refused(404, f"no message type {event!r} (specs/transactional/{event}.yml)")
        recipient, payload, key = _request_parts(message_type, body, header_key)
        mid = message_id_for(event, key, recipient, payload)
        today = dt.datetime.fromtimestamp(self.clock(), dt.UTC).date()
        with self._stripes[zlib.crc32(mid.encode()) % len(self._stripes)]:
            answer = self._send(message_type, mid, recipient, payload, today)
        timing = {**answer.body.get("timing_ms", {}), "total": round((time.perf_counter() - started) * 1000, 2)}
        return Answer(answer.status, {**answer.body, "timing_ms": timing}, answer.headers)

    # ------------------------------------------------------------------ one message

    def _send(
        self, mt: MessageType, mid: str, recipient: Mapping[str, Any], payload: Mapping[str, Any], today: dt.date
    ) -> Answer:
        run = self._home_run(mt.event, mid, today)
        previous = self._latest(run, mid)
        if previous is not None:
            decided = self._after(mt, run, previous)
            if decided is not None:
                return decided
            previous = self._latest(run, mid)  # _after may have released it
        attempt = previous.attempt + 1 if previous is not None else 1

        # What to send, decided before anything is written: a refusal here leaves no trace in the ledger.
        try:
            build = self.directory.build()
        except WarehouseNotReady as exc:
            raise Refused(503, f"no published warehouse yet: {exc}", retry_after=60) from exc
        target = self.directory.resolve(mt, recipient)
        reason = self.gatekeeper.reason(mt, target, build)
        spec = self.renderer.load(mt.template)
        base = ledger.Entry(
            message_id=mid,
            state="claimed",
            attempt=attempt,
            run_id=run,
            recipient_id=target.recipient_id,
            profile_id=target.profile_id or "",
            channel=mt.channel,
            delivery_id=delivery_id(mt.event),
            content_hash=spec.content_hash,
        )
        message = None if reason else self._compose(mt, mid, run, target, payload)

        with self.journal.locked(run, mid) as shard:
            latest = shard.latest(mid)
            if latest != previous and latest is not None:  # another process got there first
                return self._after(mt, run, latest) or _in_progress(mid, run)
            if reason is not None:
                shard.append([_with(base, state="skipped", attempt=attempt - 1, reason=reason)])
                return _answer(200, mt, base, "suppressed", reason=reason)
            shard.append([base])  # fsynced: from here on the message may be out
        return self._deliver(mt, run, base, message)

    def _latest(self, run: str, mid: str) -> ledger.Entry | None:
        with self.journal.locked(run, mid) as shard:
            return shard.latest(mid)

    def _home_run(self, event: str, mid: str, today: dt.date) -> str:
        """The run holding the message: yesterday's if it was claimed there (a retry across midnight), else
        today's. Keys are therefore honoured for at least a day."""
        self.journal.forget_before(today - dt.timedelta(days=1))
        yesterday = run_id(event, today - dt.timedelta(days=1))
        if self.journal.existing(yesterday):
            with self.journal.locked(yesterday, mid) as shard:
                if shard.latest(mid) is not None:
                    return yesterday
        return run_id(event, today)

    def _after(self, mt: MessageType, run: str, previous: ledger.Entry) -> Answer | None:
        """The answer for a message the ledger already has, or None when it may be sent (again)."""
        state = previous.state
        if state == "accepted":
            return _answer(200, mt, previous, "accepted", replay=True)
        if state == "skipped":
            return _answer(200, mt, previous, "suppressed", reason=previous.reason, replay=True)
        if state == "failed" and not previous.reason.startswith("retryable"):
            return _answer(200, mt, previous, "failed", reason=previous.reason, replay=True)
        if state in ("released", "failed"):
            return None
        if state == "claimed" and _alive_elsewhere(previous.writer):
            return _in_progress(previous.message_id, run)
        # unknown, or claimed by a writer that died during the call: ask the provider, never send blindly
        provider = self.providers.get(mt, run)
        # In doubt since it became unknown, or, for a claim whose writer died, since now (the call may have left
        # any time before): an absence counts only once the provider's records have caught up with that.
        since = dt.datetime.fromisoformat(previous.at) if state == "unknown" else clock.now()
        doubt = Doubt(previous.message_id, "", since)
        try:
            found = dispatch.lookup(
                provider, [previous.message_id], self.gate, self.policy, doubts={previous.message_id: doubt}
            ).get(previous.message_id)
        except ProviderFault as exc:
            found = None
            log.warning("lookup of %s failed: %s", previous.message_id, exc)
        with self.journal.locked(run, previous.message_id) as shard:
            if shard.latest(previous.message_id) != previous:
                return _in_progress(previous.message_id, run)
            if found is True:
                done = _with(previous, state="accepted", provider_id="lookup", reason="found by lookup")
                shard.append([done])
                return _answer(200, mt, done, "accepted", replay=True)
            if found is False:
                shard.append([_with(previous, state="released", reason="lookup: the provider does not have it")])
                return None
            if state == "claimed":
                shard.append([_with(previous, state="unknown", reason="the sender stopped during the call")])
        return _unknown(mt, previous)

    def _compose(
        self, mt: MessageType, mid: str, run: str, target: Target, payload: Mapping[str, Any]
    ) -> OutgoingMessage:
        links = self.ctx.links
        token = links.token(mid)
        context = {
            "message_id": mid,
            "event": mt.event,
            "unsubscribe_url": links.unsubscribe_url(mid, token),
            "preferences_url": links.preferences_url(mid, token),
        }
        values = {**target.attributes, **payload}
        try:
            rendered = self.renderer.render(mt.template, values, context, label=f"{mt.event} {mid}")
        except TemplateError as exc:
            raise Refused(422, str(exc), fields={"payload": "the template could not be rendered with it"}) from exc
        html = rendered.html
        if mt.channel == "email" and html:
            html = with_preheader(html, str(escape(rendered.preheader)))
        # Unsubscribe headers only where consent governs the message: a receipt has nothing to opt out of.
        headers = links.list_unsubscribe_headers(mid, token) if mt.channel == "email" and mt.consent_required else {}
        data = {"message_id": mid, "delivery_id": delivery_id(mt.event)} if mt.channel == "push" else {}
        return OutgoingMessage(
            message_id=mid,
            run_id=run,
            recipient_id=target.recipient_id,
            channel=mt.channel,
            address=target.address,
            subject=rendered.subject,
            preheader=rendered.preheader,
            title=rendered.title,
            text=rendered.text,
            html=html,
            headers=headers,
            data=data,
        )

    def _deliver(self, mt: MessageType, run: str, claim: ledger.Entry, message: OutgoingMessage | None) -> Answer:
        assert message is not None
        began = time.perf_counter()
        try:
            provider = self.providers.get(mt, run)
            [settled] = dispatch.call(provider, [message], self.gate, self.policy)
        except (AccountRejected, SenderError) as exc:  # bad credentials or setup: surely not sent
            with self.journal.locked(run, claim.message_id) as shard:
                shard.append([_with(claim, state="released", reason=str(exc)[:500])])
            raise Refused(503, f"the {mt.channel} provider cannot be used: {exc}") from exc
        provider_ms = round((time.perf_counter() - began) * 1000, 2)
        done = _with(
            claim,
            state=settled.state,
            attempt=claim.attempt - 1 + settled.attempts,
            provider_id=settled.provider_id,
            reason=settled.reason[:500],
        )
        # Not fsynced: should the machine lose it, the claim stays, and a retry looks the message up.
        with self.journal.locked(run, claim.message_id) as shard:
            shard.append([done], sync=False)
        timing = {"provider": provider_ms}
        if settled.state == "accepted":
            return _answer(202, mt, done, "accepted", timing=timing)
        if settled.state == "unknown":
            return _unknown(mt, done)
        if settled.reason.startswith("retryable"):
            fault = provider.last_fault
            if isinstance(fault, RateLimited):
                wait = max(1, round(fault.retry_after))
                return _answer(503, mt, done, "failed", reason=done.reason, timing=timing, retry_after=wait)
            return _answer(502, mt, done, "failed", reason=done.reason, timing=timing, retry_after=FAILED_RETRY_AFTER)
        return _answer(200, mt, done, "failed", reason=done.reason, timing=timing)


# ---------------------------------------------------------------------------------------------------- answers


def _request_parts(
    mt: MessageType, body: Mapping[str, Any], header_key: str | None
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    problems: dict[str, str] = {}
    unknown = sorted(set(body) - {"recipient", "payload", "idempotency_key"})
    for name in unknown:
        problems[name] = "unknown field (known: idempotency_key, payload, recipient)"
    recipient = body.get("recipient")
    if not isinstance(recipient, dict):
        problems["recipient"] = "an object with profile_id, external_key or address is required"
        recipient = {}
    else:
        for name in sorted(set(recipient) - {"profile_id", "external_key", "address"}):
            problems[f"recipient.{name}"] = "unknown field (known: address, external_key, profile_id)"
        for name in ("profile_id", "external_key", "address"):
            value = recipient.get(name)
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 320):
                problems[f"recipient.{name}"] = "must be a non-empty string"
        if "profile_id" in recipient and "external_key" in recipient:
            problems["recipient"] = "give profile_id or external_key, not both"
        elif not {"profile_id", "external_key", "address"} & set(recipient):
            problems["recipient"] = "name a profile_id, an external_key or an address"
    payload = body.get("payload", {})
    problems.update(mt.check(payload))
    key = body.get("idempotency_key", header_key)
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS):
        problems["idempotency_key"] = f"must be a string of 1 to {MAX_KEY_CHARS} characters"
    if header_key is not None and key != header_key:
        problems["idempotency_key"] = "differs from the Idempotency-Key header"
    if problems:
        first = next(iter(problems))
        raise Refused(422, f"{first}: {problems[first]}", fields=problems)
    return dict(recipient), dict(payload), key


def _with(entry: ledger.Entry, **changes: Any) -> ledger.Entry:
    values = entry.as_dict()
    values.update(changes, at=_now(), writer=ledger.WRITER)
    return ledger.Entry(**values)


def _now() -> str:
    # as senders.ledger.Entry stamps its entries
    return clock.now().isoformat(timespec="microseconds")


def _answer(
    status: int,
    mt: MessageType,
    entry: ledger.Entry,
    state: str,
    *,
    reason: str = "",
    replay: bool = False,
    timing: Mapping[str, float] | None = None,
    retry_after: int = 0,
) -> Answer:
    body = {
        "message_id": entry.message_id,
        "event": mt.event,
        "run_id": entry.run_id,
        "state": state,
        "provider_id": entry.provider_id or None,
        "replay": replay,
        "reason": reason or None,
        "timing_ms": dict(timing or {}),
    }
    return Answer(status, body, {"Retry-After": str(retry_after)} if retry_after else {})


def _unknown(mt: MessageType, entry: ledger.Entry) -> Answer:
    answer = _answer(
        504,
        mt,
        entry,
        "unknown",
        reason="the provider may have it and cannot say yet: retry with the same idempotency key later",
        retry_after=UNKNOWN_RETRY_AFTER,
    )
    return Answer(504, {"error": answer.body["reason"], **answer.body}, answer.headers)


def _in_progress(mid: str, run: str) -> Answer:
    return Answer(
        409,
        {"error": "this message is being sent by another request: retry shortly", "message_id": mid, "run_id": run},
        {"Retry-After": "1"},
    )


def _alive_elsewhere(writer: str) -> bool:
    """Whether the writer of a claim is another live process on this host (then its call is still running)."""
    host, _, pid = writer.rpartition(":")
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False  # our own earlier claim (its request ended) or another host's: treat it as ended
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------------- routes


def transactional_routes(ctx: ServeContext) -> list[BaseRoute]:
    """``POST /messages/{event}``, for ``create_app``. Loads and checks every message type now (a bad spec raises
    TrackingError naming its file and field)."""
    service = Transactional(ctx)
    token = ctx.env.get("HERALD_API_TOKEN", "")
    # Open the warehouse and read the suppressions now, not on the first caller's time.
    threading.Thread(target=service.warm, name="transactional-warm", daemon=True).start()

    async def messages(request: Request) -> Response:
        log_fields: dict[str, Any] = request.scope.setdefault("herald.log", {})
        event = request.path_params["event"]
        log_fields["message_type"] = event[:64]  # "event" names the log line itself
        answer = _authorize(request, token)
        if answer is None:
            try:
                body = await _read_json(request)
                header_key = request.headers.get("idempotency-key")
                answer = await run_in_threadpool(service.send, event, body, header_key)
            except Refused as exc:
                answer = exc.answer
            except Exception:
                log.exception("transactional %s failed", event[:64])
                answer = Answer(500, {"error": "internal error; the message may be retried with the same key"})
        log_fields["outcome"] = answer.body.get("state") or answer.status
        if answer.body.get("replay"):
            log_fields["replay"] = True
        return JSONResponse(dict(answer.body), status_code=answer.status, headers=dict(answer.headers))

    return [Route("/messages/{event}", messages, methods=["POST"], name="transactional_message")]


def _authorize(request: Request, token: str) -> Answer | None:
    refusal = bearer_refusal(request, token, "transactional messages are")
    return None if refusal is None else Answer(refusal[0], {"error": refusal[1]}, refusal[2])


async def _read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Refused(413, f"the body is over {MAX_BODY_BYTES} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, f"the body is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise Refused(400, "the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    return body
