"""Transactional messages: ``POST /messages/{event}`` renders and sends one message now, exactly once.

    POST /messages/order_confirmation
    Authorization: Bearer $HERALD_API_TOKEN
    {"recipient": {"profile_id": "p-42"}, "payload": {"order_id": "A-1001", ...}, "idempotency_key": "A-1001"}

The type comes from ``specs/transactional/<event>.yml`` (``senders.tracking.transactional_specs``); the message
is composed by the composer of every message (``senders.compose``), journaled in the send ledger
(``senders.tracking.transactional_journal``) and sent through the channel's provider by the exactly-once protocol
of every message (``senders.exactly_once``: claim → call → settle, the bulk sender's retry and lookup rules, with
fast, few retries here). No fatigue rules apply; quarantined addresses are never sent to, and a type
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
from typing import Any

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald import clock
from herald.campaigns.plans import Delivery
from herald.content.render import Renderer
from herald.errors import TemplateError, WarehouseNotReady
from herald.project import Project
from senders import dispatch, ledger
from senders.compose import Composer, Recipient
from senders.errors import SenderError
from senders.exactly_once import ExactlyOnce, Journal, Screen, Sent, Stamp, Unscreened
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
from senders.tracking.context import ServeContext
from senders.tracking.guards import bearer_refusal
from senders.tracking.transactional_answers import (
    Answer,
    Refused,
    answer_for,
    in_progress_answer,
    request_parts,
    unknown_answer,
)
from senders.tracking.transactional_journal import TransactionalJournal, run_id
from senders.tracking.transactional_recipients import Directory, Gatekeeper, TypeScreen
from senders.tracking.transactional_specs import MessageType, load_message_types

log = logging.getLogger("herald.tracking.transactional")

MAX_BODY_BYTES = 64 * 1024
FAILED_RETRY_AFTER = 10
# Fast, few retries: a caller is waiting, and retries with the same key are safe.
POLICY = dispatch.RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.5, max_rate_limit_waits=0)
_HOST = socket.gethostname()


def message_id_for(event: str, idempotency_key: str | None, recipient: Mapping[str, Any], payload: Any) -> str:
    """The message's id: from (event, key), or from (event, recipient, payload) without a key. Hex after one
    letter, like the bulk ids (``senders.ledger.shard_of`` reads it)."""
    if idempotency_key:
        basis = f"{event}\x1fkey\x1f{idempotency_key}"
    else:
        canonical = json.dumps([recipient, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        basis = f"{event}\x1fbody\x1f{canonical}"
    return "t" + hashlib.sha256(basis.encode()).hexdigest()[:31]


# ---------------------------------------------------------------------------------------------------- providers


class _Watched:
    """A provider that remembers the last fault it raised, so the answer can say how long to wait."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.max_batch = inner.max_batch
        self.last_fault: ProviderFault | None = None

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        self.last_fault = None
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
                self.gatekeeper.reason(mt, None, "", build)
        except (WarehouseNotReady, duckdb.Error, SenderError) as exc:
            log.info("transactional messages not warmed up: %s", exc)

    def send(self, event: str, body: Mapping[str, Any], header_key: str | None = None) -> Answer:
        started = time.perf_counter()
        message_type = self.types.get(event)
        if message_type is None:
            raise Refused(404, f"no message type {event!r} (specs/transactional/{event}.yml)")
        recipient, payload, key = request_parts(message_type, body, header_key)
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
        journal = self.journal.book(run, mid)
        previous = _latest(journal, mid)
        if previous is not None:
            decided = self._after(mt, run, journal, previous)
            if decided is not None:
                return decided
            previous = _latest(journal, mid)  # _after may have released it

        # What to send, decided before anything is written: a refusal here leaves no trace in the ledger.
        try:
            build = self.directory.build()
        except WarehouseNotReady as exc:
            raise Refused(503, f"no published warehouse yet: {exc}", retry_after=60) from exc
        target = self.directory.resolve(mt, recipient)
        once = self._once(mt, run, TypeScreen(self.gatekeeper, mt, build))
        r = Recipient(
            message_id=mid,
            recipient_id=target.recipient_id,
            profile_id=target.profile_id,
            address=target.address,
            group="",
            variant="",
            payload={**target.attributes, **payload},
            label=f"{mt.event} {mid}",
        )
        try:
            decision = once.decide(r)
        except TemplateError as exc:
            raise Refused(422, str(exc), fields={"payload": "the template could not be rendered with it"}) from exc
        try:
            sent = once.send_one(journal, decision, seen=previous)
        except (AccountRejected, SenderError) as exc:  # bad credentials or setup: surely not sent, released
            raise Refused(503, f"the {mt.channel} provider cannot be used: {exc}") from exc
        if not sent.ours:  # another process got there first
            return self._after(mt, run, journal, sent.entry) or in_progress_answer(mid, run)
        return self._answer_sent(mt, run, sent)

    def _once(self, mt: MessageType, run: str, screen: Screen | None = None) -> ExactlyOnce:
        """The exactly-once protocol for ``mt``'s messages in ``run``, fast and few retries (a caller waits)."""
        composer = Composer(
            self.renderer,
            mt.template,
            run_id=run,
            channel=mt.channel,
            delivery_id=delivery_id(mt.event),
            links=self.ctx.links,
            context={"event": mt.event},
            # Unsubscribe headers only where consent governs the message: a receipt has nothing to opt out of.
            list_unsubscribe=mt.consent_required,
        )
        stamp = Stamp(run, mt.channel, delivery_id(mt.event), composer.spec.content_hash)
        return ExactlyOnce(
            stamp,
            composer,
            lambda: self.providers.get(mt, run),
            gate=self.gate,
            policy=self.policy,
            screen=screen or Unscreened(),
            count_retries=True,
            log=log,
        )

    def _home_run(self, event: str, mid: str, today: dt.date) -> str:
        """The run holding the message: yesterday's if it was claimed there (a retry across midnight), else
        today's. Keys are therefore honoured for at least a day."""
        self.journal.forget_before(today - dt.timedelta(days=1))
        yesterday = run_id(event, today - dt.timedelta(days=1))
        if self.journal.existing(yesterday) and _latest(self.journal.book(yesterday, mid), mid) is not None:
            return yesterday
        return run_id(event, today)

    def _after(self, mt: MessageType, run: str, journal: Journal, previous: ledger.Entry) -> Answer | None:
        """The answer for a message the ledger already has, or None when it may be sent (again)."""
        state = previous.state
        if state == "accepted":
            return answer_for(200, mt, previous, "accepted", replay=True)
        if state == "skipped":
            return answer_for(200, mt, previous, "suppressed", reason=previous.reason, replay=True)
        if state == "failed" and not previous.reason.startswith("retryable"):
            return answer_for(200, mt, previous, "failed", reason=previous.reason, replay=True)
        if state in ("released", "failed"):
            return None
        if state == "claimed" and _alive_elsewhere(previous.writer):
            return in_progress_answer(previous.message_id, run)
        # unknown, or claimed by a writer that died during the call: ask the provider, never send blindly
        now = self._once(mt, run).settle_doubts(journal, [(previous, "")])[previous.message_id]
        if now is None:
            return in_progress_answer(previous.message_id, run)
        if now.state == "accepted":
            return answer_for(200, mt, now, "accepted", replay=True)
        if now.state == "released":
            return None
        return unknown_answer(mt, previous)

    def _answer_sent(self, mt: MessageType, run: str, sent: Sent) -> Answer:
        """The answer for a message this request journaled: suppressed, or the provider call's outcome."""
        done = sent.entry
        if done.state == "skipped":
            return answer_for(200, mt, done, "suppressed", reason=done.reason)
        timing = {"provider": round(sent.seconds * 1000, 2)}
        if done.state == "accepted":
            return answer_for(202, mt, done, "accepted", timing=timing)
        if done.state == "unknown":
            return unknown_answer(mt, done)
        if done.reason.startswith("retryable"):
            fault = self.providers.get(mt, run).last_fault
            if isinstance(fault, RateLimited):
                wait = max(1, round(fault.retry_after))
                return answer_for(503, mt, done, "failed", reason=done.reason, timing=timing, retry_after=wait)
            wait = FAILED_RETRY_AFTER
            return answer_for(502, mt, done, "failed", reason=done.reason, timing=timing, retry_after=wait)
        return answer_for(200, mt, done, "failed", reason=done.reason, timing=timing)


def _latest(journal: Journal, mid: str) -> ledger.Entry | None:
    with journal.held() as held:
        return held.latest(mid)


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
