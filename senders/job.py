"""``herald send RUN``: turn a prepared, approved run's send list into messages, exactly once.

For each shard of the run it can lock (see senders.ledger), the job:
1. settles what a previous sender left in flight (``claimed`` → ``unknown``) and asks the provider about
   every ``unknown`` message (found → accepted, surely absent → sent again, cannot tell → stays unknown);
2. takes the next window of pending messages, skips those opted out or quarantined since preparation
   (re-checked now, against the latest landed unsubscribes), defers those outside the send window in the
   recipient's time zone, and renders the rest with the one renderer;
3. claims them in the journal and fsyncs, *then* calls the provider (concurrently, several calls in flight);
4. appends each outcome.
A kill anywhere loses nothing and sends nothing twice: a claim without an outcome is never re-sent blindly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gc
import os
import queue
import threading
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from herald import clock, warehouse
from herald.campaigns.approvals import check_send
from herald.campaigns.catalog import Catalog
from herald.content.render import Renderer
from herald.errors import TemplateError
from herald.project import Project
from senders import ledger
from senders.compose import POSTAL_FIELDS, Composer, Recipient
from senders.dispatch import Gate, RetryPolicy, Settled, call, lookup
from senders.errors import SendRefused
from senders.governor import GovernorSettings, RateGovernor
from senders.links import Links
from senders.providers import open_provider
from senders.providers.base import AccountRejected, Doubt, OutgoingMessage, Provider, ProviderFault
from senders.suppression import Suppressions


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Local hours (in each recipient's time zone) during which messages may go out: [start, end)."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        try:
            a, b = text.split("-")
            return cls(dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip()))
        except ValueError as exc:
            raise SendRefused(f"send window {text!r} is not HH:MM-HH:MM") from exc

    def allows(self, now_utc: dt.datetime, time_zone: str, fallback: str) -> bool:
        try:
            tz = zoneinfo.ZoneInfo(time_zone or fallback)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = zoneinfo.ZoneInfo(fallback)
        local = now_utc.astimezone(tz).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a window across midnight


@dataclass(frozen=True, slots=True)
class SendOptions:
    dry_run: bool = False
    sandbox: bool = False  # with dry_run, email: also have SendGrid validate every request in sandbox mode
    concurrency: int = 8
    shards: int | None = None  # proposed for a run's first sender (default: one per 5,000); later ones use the run's
    max_batch: int | None = None  # at most this many messages per provider call (default: the provider's most)
    max_per_hour: int | None = None
    send_window: SendWindow | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # How the provider's pushing back paces every worker (senders.governor); ``in_flight`` is the concurrency.
    governor: GovernorSettings = field(default_factory=GovernorSettings)
    lookup_unknown: bool = True  # ask the provider about messages a previous sender left unknown
    ignore_approval: bool = False  # for proofs and tests of the send path only; never from the CLI
    now: Callable[[], dt.datetime] = lambda: clock.now()


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    rate: float  # messages settled per second in this process
    eta_seconds: float | None


@dataclass(frozen=True, slots=True)
class SendSummary:
    run_id: str
    total: int
    states: Mapping[str, int]  # accepted / failed / unknown / skipped / pending / released
    reasons: Mapping[str, int]  # "<state>: <reason kind>" → count, for what did not go out
    sent_now: int  # accepted by this process
    elapsed: float
    stopped: str = ""  # why the job stopped early (paused, cancelled, account rejected), if it did
    provider_events: Mapping[str, int] = field(default_factory=dict)  # rate_limited, transient, ambiguous, ...
    dry_run: bool = False

    @property
    def complete(self) -> bool:
        return not self.states.get("pending") and not self.states.get("released")


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    delivery_id: str
    campaign_id: str
    channel: str
    topic: str | None
    template: str
    time_zone: str
    content_hash: str  # what the recipients receive apart from their data (template, sender, channel, topic)


def load_run(project: Project, run_id: str) -> tuple[RunInfo, list[Recipient]]:
    """The run and its sendable recipients (targets, variants, seeds; never the control group)."""
    con = warehouse.connect(project)
    try:
        row = con.execute(
            "select delivery_id, campaign_id, channel, content_hash from delivery_runs where run_id = ?", [run_id]
        ).fetchone()
        if row is None:
            raise SendRefused(f"no prepared run {run_id!r} in the published warehouse (see `herald runs list`)")
        channel = str(row[2])
        # Postal fields only where they are sent (direct mail): no other channel reads them.
        postal = "".join(f", p.{c}" for c in POSTAL_FIELDS) if channel == "direct_mail" else ""
        table = con.execute(
            f"select s.recipient_id, s.profile_id, s.address, s.recipient_group, s.variant, s.payload, s.topic,"
            f" p.time_zone{postal} from send_lists s left join profiles p on p.profile_id = s.profile_id"
            " where s.run_id = ? and s.is_sendable and s.recipient_group <> 'control' order by s.recipient_id",
            [run_id],
        ).to_arrow_table()
    finally:
        con.close()
    delivery_id, campaign_id, channel, content_hash = (str(v) for v in row)
    ref = Catalog.of(project).delivery(delivery_id)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    topic = next((t for t in columns["topic"] if t), ref.delivery.topic)
    info = RunInfo(
        run_id,
        delivery_id,
        campaign_id,
        channel,
        topic,
        ref.delivery.template,
        ref.delivery.schedule.time_zone,
        content_hash,
    )
    ids = [ledger.message_id(run_id, str(r), channel) for r in columns["recipient_id"]]
    recipients = Recipient.from_columns(ids, columns)
    return info, recipients


class Throttle:
    """At most ``per_hour`` messages per hour, spread evenly: a token bucket holding one minute's worth."""

    def __init__(
        self,
        per_hour: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = per_hour / 3600 if per_hour else None
        self.tokens = (self.rate or 0) * 60
        self.clock, self.sleep = clock, sleep
        self.stamp = clock()

    def take(self, n: int) -> None:
        """Wait until ``n`` more messages keep the rate; the bucket may go into debt, so a window larger than
        the bucket waits exactly as long as the rate requires."""
        if self.rate is None:
            return
        now = self.clock()
        self.tokens = min(self.rate * 60, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= n
        if self.tokens < 0:
            self.sleep(-self.tokens / self.rate)


class SendJob:
    """One sender process's work on one run. ``run()`` returns the run's summary."""

    def __init__(
        self,
        project: Project,
        run_id: str,
        options: SendOptions | None = None,
        *,
        env: Mapping[str, str] | None = None,
        progress: Callable[[Progress], None] | None = None,
        provider_factory: Callable[[], Provider] | None = None,
    ) -> None:
        self.project = project
        self.run_id = run_id
        self.options = options or SendOptions()
        self.env = dict(os.environ if env is None else env)
        self.progress = progress
        self._factory = provider_factory
        in_flight = max(1, self.options.concurrency)
        self.gate = Gate(governor=RateGovernor(dataclasses.replace(self.options.governor, in_flight=in_flight)))
        self._local = threading.local()
        self._providers: list[Provider] = []
        self._providers_lock = threading.Lock()
        self._throttle = Throttle(self.options.max_per_hour)
        self._sent_now = 0
        self._done_now = 0
        self._started = time.monotonic()
        self._stop = ""

    # ------------------------------------------------------------------ setup

    def _check(self) -> None:
        state = ledger.control(self.project, self.run_id)
        if state.state != "active":
            raise SendRefused(
                f"run {self.run_id} is {state.state} (by {state.by or '?'}"
                + (f": {state.reason}" if state.reason else "")
                + ")"
                + ("; `herald send resume` it first" if state.state == "paused" else "")
            )
        if self.options.ignore_approval or self.options.dry_run:
            return
        verdict = check_send(self.project, self.run_id)
        if not verdict.allowed:
            raise SendRefused(f"run {self.run_id} may not be sent: " + "; ".join(verdict.reasons))

    def _provider(self) -> Provider:
        p: Provider | None = getattr(self._local, "provider", None)
        if p is None:
            if self._factory is not None:
                p = self._factory()
            else:
                p = open_provider(
                    self.delivery,
                    project=self.project,
                    run_id=self.run_id,
                    campaign_id=self.info.campaign_id,
                    env=self.env,
                    sandbox=self.options.dry_run,
                )
            self._local.provider = p
            with self._providers_lock:
                self._providers.append(p)
        return p

    # ------------------------------------------------------------------ the run

    def run(self) -> SendSummary:
        with _collector():
            return self._run()

    def _run(self) -> SendSummary:
        self._check()
        self.info, recipients = load_run(self.project, self.run_id)
        self.delivery = Catalog.of(self.project).delivery(self.info.delivery_id).delivery
        links = Links.from_env(self.env, required=not self.options.dry_run)
        self.composer = Composer(
            Renderer(self.project.specs_dir / "templates"),
            self.info.template,
            run_id=self.run_id,
            channel=self.info.channel,
            delivery_id=self.info.delivery_id,
            campaign_id=self.info.campaign_id,
            links=links,
        )
        if self.options.dry_run:
            return self._dry_run(recipients)
        typology = Catalog.of(self.project).typology(self.delivery.typology)
        self.suppressions = Suppressions(
            self.project, channel=self.info.channel, topic=self.info.topic, consent=typology.require_consent
        )
        proposed = self.options.shards or max(2, min(64, len(recipients) // 5000))
        shards = ledger.shard_count(self.project, self.run_id, proposed)
        by_shard: dict[int, list[Recipient]] = {}
        for r in recipients:
            by_shard.setdefault(ledger.shard_of(r.message_id, shards), []).append(r)
        self.total = len(recipients)
        self._done_before = sum(
            1 for e in ledger.read_run(self.project, self.run_id).values() if e.state in ledger.SETTLED
        )
        order = sorted(by_shard, key=lambda k: (k - os.getpid()) % shards)  # senders start apart
        busy = []
        gc.freeze()  # the run's recipients live as long as the job: out of the collector's sight (see _collector)
        # More workers than requests in flight: a call waiting out a 429 holds a worker but no slot, so spare
        # workers keep the slots busy (the governor caps requests in flight at the concurrency). Calls waiting at
        # once ≈ the rate of 429s × Retry-After: three spares per slot cover 10 % of 429s at 50 ms per request.
        in_flight = max(1, self.options.concurrency)
        workers = _Workers(in_flight + min(3 * in_flight, 128), self._call)
        flight = _Flight(self, workers)
        try:
            for k in order:
                shard = ledger.Shard(self.project, self.run_id, k)
                if not shard.try_lock():
                    busy.append(k)
                    continue
                self._work(shard, by_shard[k], flight)
                if self._stop:
                    break
            # Shards another sender held: wait for it, then finish whatever it left (usually nothing).
            for k in busy if not self._stop else []:
                shard = ledger.Shard(self.project, self.run_id, k)
                flight.drain()  # never hold finished shards while waiting for another sender's
                shard.try_lock(wait=True)
                self._work(shard, by_shard[k], flight)
                if self._stop:
                    break
            flight.drain()
        finally:
            workers.close()
            flight.release_all()
            for p in self._providers:
                p.close()
        summary = self.summary(recipients, flight.latest)
        if self.info.channel == "direct_mail" and summary.complete:
            self._finish_direct_mail()
        return summary

    def _finish_direct_mail(self) -> None:
        from senders.providers.direct_mail import DirectMailProvider

        provider = DirectMailProvider(self.project, self.run_id, self.info.delivery_id)
        provider.finish(self.run_id)

    def _entry(self, r: Recipient, state: ledger.State, attempt: int, **kw: Any) -> ledger.Entry:
        """A journal entry of ``r``; ``at`` (the time of the write it goes in) may be given by the caller."""
        return ledger.Entry(
            message_id=r.message_id,
            state=state,
            attempt=attempt,
            run_id=self.run_id,
            recipient_id=r.recipient_id,
            profile_id=r.profile_id or "",
            channel=self.info.channel,
            delivery_id=self.info.delivery_id,
            content_hash=self.info.content_hash,
            **kw,
        )

    def _work(self, shard: ledger.Shard, recipients: list[Recipient], flight: _Flight) -> None:
        """Send ``shard``'s pending messages, window by window. Returns once its last window is claimed and handed
        to the workers: the shard stays locked in ``flight`` until its calls have ended and are recorded, while
        the next shard's first window is already being rendered."""
        flight.add(shard)
        by_id = {r.message_id: r for r in recipients}
        # 1. what a previous sender left: in flight → unknown; unknown → ask the provider.
        stale = [
            self._entry(by_id[m], "unknown", e.attempt, reason="the sender stopped during the provider call")
            for m, e in shard.last.items()
            if e.state == "claimed" and m in by_id
        ]
        shard.append(stale)
        unknown = [by_id[m] for m, e in shard.last.items() if e.state == "unknown" and m in by_id]
        if unknown and self.options.lookup_unknown:
            self._reconcile(shard, unknown)
        # 2-4. windows of pending messages.
        pending = [r for r in recipients if shard.last.get(r.message_id) is None or _claimable(shard, r)]
        provider = self._provider()
        batch = min(provider.max_batch, self.options.max_batch or provider.max_batch)
        # A window is one round of calls (a call per worker): small windows bound what a kill leaves unknown and
        # how long a pause takes, and the first calls start soon. The next window is rendered and claimed while the
        # calls of the previous ones are in flight; the job waits only while the workers have more than two
        # rounds before them, so they never run dry during a render.
        per_call = batch if self.composer.batches(one_body=getattr(provider, "one_body_per_call", False)) else 1
        concurrency = max(1, self.options.concurrency)
        window = max(per_call * concurrency, 64)
        for start in range(0, len(pending), window):
            if self._paused_or_cancelled():
                break
            self._window(shard, pending[start : start + window], flight, batch)
            # Calls waiting out a 429 hold no slot: keep as many more in hand, so the slots never run dry.
            flight.collect(until=2 * concurrency + self.gate.parked)
            if self._stop:
                break
        flight.done_claiming(shard)

    def _reconcile(self, shard: ledger.Shard, unknown: list[Recipient]) -> None:
        provider = self._provider()
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            # In doubt since the message became unknown: after its claim, and after every request for it left
            # (a dead sender's at the latest when the restart recorded it). A lagging provider's absence counts
            # only once that is longer ago than its records lag.
            doubts = {
                r.message_id: Doubt(r.message_id, r.address, dt.datetime.fromisoformat(shard.last[r.message_id].at))
                for r in chunk
            }
            try:
                found = lookup(provider, [r.message_id for r in chunk], self.gate, self.options.retry, doubts=doubts)
            except ProviderFault as exc:
                self.gate.count(f"lookup failed: {type(exc).__name__}")
                return
            entries = []
            for r in chunk:
                attempt = shard.last[r.message_id].attempt
                if found.get(r.message_id) is True:
                    entries.append(self._entry(r, "accepted", attempt, provider_id="lookup", reason="found"))
                elif found.get(r.message_id) is False:
                    entries.append(self._entry(r, "released", attempt, reason="not found at the provider"))
                # None: the provider cannot tell yet; the message stays unknown for a later sender to settle
            shard.append(entries)

    def _paused_or_cancelled(self) -> bool:
        state = ledger.control(self.project, self.run_id)
        if state.state != "active":
            self._stop = f"{state.state} by {state.by or '?'}" + (f": {state.reason}" if state.reason else "")
            return True
        return False

    def _window(self, shard: ledger.Shard, window: list[Recipient], flight: _Flight, max_batch: int) -> None:
        self.suppressions.refresh()
        now = self.options.now()
        skipped: list[ledger.Entry] = []
        failed: list[ledger.Entry] = []
        ready: list[tuple[Recipient, OutgoingMessage]] = []
        reason_of = self.suppressions.reason
        compose_shared, compose = self.composer.compose_shared, self.composer.compose
        sw = self.options.send_window
        fallback_tz = self.info.time_zone or "UTC"
        for r in window:
            reason = reason_of(r.profile_id, r.address)
            if reason is not None:
                skipped.append(self._entry(r, "skipped", 0, reason=reason))
                continue
            if sw is not None and r.group != "seed" and not sw.allows(now, r.time_zone, fallback_tz):
                continue  # deferred: stays pending for a later run of the job
            try:
                message = compose_shared(r) or compose(r)
            except TemplateError as exc:
                failed.append(self._entry(r, "failed", 0, reason=f"template: {exc}"))
                continue
            ready.append((r, message))
        shard.append(skipped + failed)
        self._done_now += len(skipped) + len(failed)
        if not ready:
            return
        self._throttle.take(len(ready))
        last = shard.last
        at = ledger.now()
        claims = []
        for r, _ in ready:
            previous = last.get(r.message_id)
            claims.append(self._entry(r, "claimed", previous.attempt + 1 if previous else 1, at=at))
        shard.append(claims)  # durable before the call
        one_body = getattr(self._provider(), "one_body_per_call", False)
        flight.submit(shard, [[m for _, m in unit] for unit in _units(ready, max_batch, one_body=one_body)])

    def _settle(self, shard: ledger.Shard, settled: list[Settled]) -> None:
        """Record the outcomes of ended calls in one write (not fsynced: an outcome lost to a crash only makes its
        message unknown, never re-sent)."""
        last = shard.last
        at = ledger.now()
        entries = []
        accepted = 0
        for s in settled:
            claim = last[s.message_id]
            entries.append(
                ledger.Entry(
                    message_id=s.message_id,
                    state=s.state,  # type: ignore[arg-type]
                    attempt=claim.attempt,
                    run_id=self.run_id,
                    recipient_id=claim.recipient_id,
                    profile_id=claim.profile_id,
                    channel=claim.channel,
                    delivery_id=claim.delivery_id,
                    content_hash=claim.content_hash,
                    provider_id=s.provider_id,
                    reason=s.reason,
                    at=at,
                )
            )
            accepted += s.state == "accepted"
        shard.append(entries, sync=False)
        self._done_now += len(settled)
        self._sent_now += accepted

    def _call(self, messages: list[OutgoingMessage]) -> list[Settled]:
        return call(self._provider(), messages, self.gate, self.options.retry)

    def _report(self) -> None:
        if self.progress is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self._done_now / elapsed
        done = self._done_before + self._done_now
        eta = (self.total - done) / rate if rate > 0 else None
        self.progress(Progress(done, self.total, rate, eta))

    # ------------------------------------------------------------------ dry run and summary

    def _dry_run(self, recipients: list[Recipient]) -> SendSummary:
        """Render every message (the way the send would) and validate it; nothing is sent, nothing recorded."""
        states: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        ready: list[tuple[Recipient, OutgoingMessage]] = []
        for r in recipients:
            try:
                message = self.composer.compose_shared(r) or self.composer.compose(r)
                states["valid"] += 1
                ready.append((r, message))
            except TemplateError as exc:
                states["invalid"] += 1
                reasons[f"invalid: {str(exc)[:200]}"] += 1
        if self.options.sandbox and self.info.channel == "email":
            provider = self._provider()  # opened with sandbox=True: SendGrid validates and delivers nothing
            for unit in _units(ready, provider.max_batch, one_body=True):
                for s in call(provider, [m for _, m in unit], self.gate, self.options.retry):
                    if s.state != "accepted":
                        states["valid"] -= 1
                        states["invalid"] += 1
                        reasons[f"invalid: {s.reason[:200]}"] += 1
            provider.close()
        return SendSummary(
            self.run_id,
            len(recipients),
            dict(states),
            dict(reasons),
            0,
            time.monotonic() - self._started,
            dry_run=True,
        )

    def summary(
        self, recipients: Sequence[Recipient], known: Mapping[int, Mapping[str, ledger.Entry]] | None = None
    ) -> SendSummary:
        """The run's summary. ``known``: the latest entries of the shards this job held (shard → message →
        entry), as it kept them while writing; the other shards are read from the journal."""
        known = known or {}
        shards = ledger.shard_count(self.project, self.run_id, 1)
        latest: dict[str, ledger.Entry] = {}
        for k in range(shards):
            latest.update(known[k] if k in known else ledger.read_shard(self.project, self.run_id, k))
        states: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for r in recipients:
            e = latest.get(r.message_id)
            state = "pending" if e is None else e.state
            states[state] += 1
            if e is not None and state != "accepted" and e.reason:
                reasons[f"{state}: {_reason_kind(e.reason)}"] += 1
        return SendSummary(
            run_id=self.run_id,
            total=len(recipients),
            states=dict(states),
            reasons=dict(reasons),
            sent_now=self._sent_now,
            elapsed=time.monotonic() - self._started,
            stopped=self._stop,
            provider_events=dict(self.gate.events),
        )


_collector_lock = threading.Lock()
_collector_users = 0
_collector_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def _collector() -> Iterator[None]:
    """The cyclic garbage collector, tuned for a job that makes hundreds of thousands of small objects (recipients,
    messages, entries) and keeps many of them: its first threshold raised, and whatever the job freezes
    (``gc.freeze``) out of its sight, so its passes stop walking the run again and again (a tenth of the sender's
    CPU, measured). Reference counting frees everything as usual. The settings are the process's: the first job
    of a process to start changes them, the last to end restores them."""
    global _collector_users, _collector_saved
    with _collector_lock:
        if _collector_users == 0:
            _collector_saved = gc.get_threshold()
            gc.set_threshold(max(_collector_saved[0], 50_000), *_collector_saved[1:])
        _collector_users += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users -= 1
            if _collector_users == 0:
                gc.set_threshold(*_collector_saved)
                gc.unfreeze()


class _Workers:
    """``n`` threads making provider calls: a call goes in through one queue and its result comes out through
    another (one hand-off each way, no futures to wait on), tagged with the caller's key."""

    def __init__(self, n: int, fn: Callable[[list[OutgoingMessage]], list[Settled]]) -> None:
        self.calls: queue.SimpleQueue[tuple[int, list[OutgoingMessage]] | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[tuple[int, list[Settled] | None, BaseException | None]] = queue.SimpleQueue()
        self._fn = fn
        self._threads = [threading.Thread(target=self._loop, name=f"send-{i}", daemon=True) for i in range(n)]
        for t in self._threads:
            t.start()

    def _loop(self) -> None:
        while (item := self.calls.get()) is not None:
            key, messages = item
            try:
                self.results.put((key, self._fn(messages), None))
            except BaseException as exc:  # handed to the job's thread, which decides
                self.results.put((key, None, exc))

    def unstarted(self) -> list[int]:
        """Take back the calls no worker has started (their messages surely went nowhere): their keys."""
        keys: list[int] = []
        while True:
            try:
                item = self.calls.get_nowait()
            except queue.Empty:
                return keys
            if item is not None:
                keys.append(item[0])

    def close(self) -> None:
        self.unstarted()
        for _ in self._threads:
            self.calls.put(None)
        for t in self._threads:
            t.join()


@dataclass
class _ShardFlight:
    shard: ledger.Shard
    calls: int = 0  # calls handed to the workers and not yet recorded
    claiming: bool = True  # the job may still claim windows of this shard
    claimed: list[str] = field(default_factory=list)  # message ids claimed by this job


class _Flight:
    """The calls in flight, over one or more locked shards. A shard's lock is held until its job is done claiming
    and every call of it has ended and been recorded; then its journal is synced and the lock released."""

    def __init__(self, job: SendJob, workers: _Workers) -> None:
        self.job = job
        self.workers = workers
        self.shards: dict[int, _ShardFlight] = {}
        self.latest: dict[int, Mapping[str, ledger.Entry]] = {}  # released shards: message → latest entry
        self._calls: dict[int, tuple[_ShardFlight, list[OutgoingMessage]]] = {}
        self._next = 0
        self.rejected: AccountRejected | None = None

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def add(self, shard: ledger.Shard) -> None:
        self.shards[shard.index] = _ShardFlight(shard)

    def submit(self, shard: ledger.Shard, calls: list[list[OutgoingMessage]]) -> None:
        sf = self.shards[shard.index]
        for messages in calls:
            sf.claimed.extend(m.message_id for m in messages)
            if self.rejected is not None:  # the account was refused: nothing more goes out
                continue
            key = self._next
            self._next += 1
            self._calls[key] = (sf, messages)
            sf.calls += 1
            self.workers.calls.put((key, messages))

    def done_claiming(self, shard: ledger.Shard) -> None:
        self.shards[shard.index].claiming = False
        self._close_finished()

    def collect(self, *, until: int) -> None:
        """Record ended calls until no more than ``until`` are in flight (one write per shard per round)."""
        while len(self._calls) > until:
            ended = self._ended()
            by_shard: dict[int, list[Settled]] = {}
            failure: BaseException | None = None
            for key, settled, exc in ended:
                sf, _ = self._calls.pop(key)
                sf.calls -= 1
                if isinstance(exc, AccountRejected):
                    self._reject(exc)
                elif exc is not None:
                    failure = failure or exc
                else:
                    by_shard.setdefault(sf.shard.index, []).extend(settled or ())
            for index, settled in by_shard.items():
                self.job._settle(self.shards[index].shard, settled)
            self.job._report()
            if failure is not None:
                raise failure
            self._close_finished()

    def _ended(self) -> list[tuple[int, list[Settled] | None, BaseException | None]]:
        """Wait for a call to end; take every other that has ended too."""
        ended = [self.workers.results.get()]
        while True:
            try:
                ended.append(self.workers.results.get_nowait())
            except queue.Empty:
                return ended

    def drain(self) -> None:
        self.collect(until=0)
        self._close_finished()

    def _reject(self, exc: AccountRejected) -> None:
        if self.rejected is None:
            self.rejected = exc
            self.job._stop = f"the provider refused the account: {exc}"
        for key in self.workers.unstarted():  # never made: nothing of them went out
            sf, _ = self._calls.pop(key)
            sf.calls -= 1

    def _close_finished(self) -> None:
        for index, sf in list(self.shards.items()):
            if sf.claiming or sf.calls:
                continue
            shard = sf.shard
            if self.rejected is not None:
                # Nothing of the refused calls was accepted: release them so a corrected key can send them later.
                left = [m for m in sf.claimed if shard.last[m].state == "claimed"]
                at = ledger.now()
                shard.append(_released(shard.last[m], str(self.rejected), at) for m in left)
            shard.sync()
            self.latest[index] = shard.last
            shard.release()
            del self.shards[index]

    def release_all(self) -> None:
        """After a failure: let go of every shard still held (what is claimed stays claimed: unknown later)."""
        for sf in self.shards.values():
            sf.shard.release()
        self.shards.clear()


def _released(claim: ledger.Entry, reason: str, at: str) -> ledger.Entry:
    return ledger.Entry(
        message_id=claim.message_id,
        state="released",
        attempt=claim.attempt,
        run_id=claim.run_id,
        recipient_id=claim.recipient_id,
        profile_id=claim.profile_id,
        channel=claim.channel,
        delivery_id=claim.delivery_id,
        content_hash=claim.content_hash,
        reason=reason,
        at=at,
    )


def _claimable(shard: ledger.Shard, r: Recipient) -> bool:
    return shard.last[r.message_id].state == "released"


_Item = tuple[Recipient, OutgoingMessage]


def _units(ready: list[_Item], max_batch: int, *, one_body: bool = False) -> Iterator[list[_Item]]:
    """Provider calls of up to ``max_batch`` messages. A provider whose call carries ``one_body`` (SendGrid) gets
    messages with the same shared body together and messages with their own content alone."""
    if max_batch <= 1:
        for item in ready:
            yield [item]
        return
    if not one_body:
        for start in range(0, len(ready), max_batch):
            yield ready[start : start + max_batch]
        return
    groups: dict[tuple[str, str] | str, list[_Item]] = {}
    for r, m in ready:
        key: tuple[str, str] | str = (m.html, m.text) if m.substitutions else m.message_id
        group = groups.setdefault(key, [])
        group.append((r, m))
        if len(group) == max_batch:
            yield group
            groups[key] = []
    for group in groups.values():
        if group:
            yield group


def _reason_kind(reason: str) -> str:
    """A reason without its per-message details, for counting."""
    return reason.split(" for recipient ")[0].split(": ", 2)[0] if reason.startswith("template") else reason[:120]
