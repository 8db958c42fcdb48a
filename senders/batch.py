"""Send a batch of recipients exactly once over their run's ledger shards, several provider calls in flight.

What ``herald send`` (``senders.job``) and a journey's step (``senders.to_profiles``) share. For each shard of the
run it can lock (``senders.ledger``), the sender:
1. settles what a previous sender left in flight (``claimed`` → ``unknown``) and asks the provider about every
   ``unknown`` message (found → accepted, surely absent → sent again, cannot tell → stays unknown);
2. takes the next window of pending messages, skips those opted out or quarantined since they were chosen
   (re-checked now, against the latest landed unsubscribes), defers those outside the send window in the
   recipient's time zone, and renders the rest with the one renderer;
3. claims them and fsyncs, *then* hands the provider calls to the workers (several in flight);
4. appends each outcome.
A kill anywhere loses nothing and sends nothing twice: a claim without an outcome is never re-sent blindly. The
protocol itself is ``senders.exactly_once``; this module adds shards, windows, pacing and concurrency.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from herald.errors import TemplateError
from herald.project import Project
from senders import ledger
from senders.compose import Recipient
from senders.dispatch import Settled
from senders.exactly_once import ExactlyOnce
from senders.options import Progress, SendOptions
from senders.pacing import Throttle
from senders.providers.base import OutgoingMessage
from senders.workers import Flight, Workers


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch send did: the latest entries of the shards it held (shard → message → entry), the messages
    it had accepted, why it stopped early ("" when it did not) and what the provider said. Equal when every field
    is equal."""

    latest: Mapping[int, Mapping[str, ledger.Entry]]
    sent_now: int
    stopped: str = ""
    provider_events: Mapping[str, int] = field(default_factory=dict)


class BatchSend:
    """One process's work on one batch. ``time_zone`` is the fallback of recipients without one (send window);
    ``done_before`` the messages already settled, for progress."""

    def __init__(
        self,
        project: Project,
        run_id: str,
        recipients: Sequence[Recipient],
        once: ExactlyOnce,
        options: SendOptions,
        *,
        time_zone: str = "UTC",
        done_before: int = 0,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.project, self.run_id, self.recipients = project, run_id, recipients
        self.once, self.options, self.progress = once, options, progress
        self.time_zone = time_zone or "UTC"
        self._throttle = Throttle(options.max_per_hour)
        self._done_before = done_before
        self._done_now = 0
        self._sent_now = 0
        self._started = time.monotonic()
        self._stop = ""

    def run(self) -> BatchResult:
        with collector():
            return self._run()

    def _run(self) -> BatchResult:
        recipients = self.recipients
        proposed = self.options.shards or max(2, min(64, len(recipients) // 5000))
        shards = ledger.shard_count(self.project, self.run_id, proposed)
        by_shard: dict[int, list[Recipient]] = {}
        for r in recipients:
            by_shard.setdefault(ledger.shard_of(r.message_id, shards), []).append(r)
        order = sorted(by_shard, key=lambda k: (k - os.getpid()) % shards)  # senders start apart
        busy = []
        gc.freeze()  # the batch's recipients live as long as the send: out of the collector's sight (see collector)
        # More workers than requests in flight: a call waiting out a 429 holds a worker but no slot, so spare
        # workers keep the slots busy (the governor caps requests in flight at the concurrency). Calls waiting at
        # once ≈ the rate of 429s × Retry-After: three spares per slot cover 10 % of 429s at 50 ms per request.
        in_flight = self.options.in_flight
        workers = Workers(in_flight + min(3 * in_flight, 128), self.once.call)
        flight = Flight(self, workers)
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
        return BatchResult(flight.latest, self._sent_now, self._stop, dict(self.once.gate.events))

    def _work(self, shard: ledger.Shard, recipients: list[Recipient], flight: Flight) -> None:
        """Send ``shard``'s pending messages, window by window. Returns once its last window is claimed and handed
        to the workers: the shard stays locked in ``flight`` until its calls have ended and are recorded, while
        the next shard's first window is already being rendered."""
        flight.add(shard)
        by_id = {r.message_id: r for r in recipients}
        # 1. what a previous sender left: in flight → unknown; unknown → ask the provider.
        self.once.mark_unknown(shard, [e for m, e in shard.last.items() if e.state == "claimed" and m in by_id])
        if self.options.lookup_unknown:
            unknown = [(e, by_id[m].address) for m, e in shard.last.items() if e.state == "unknown" and m in by_id]
            if unknown:
                self.once.settle_doubts(shard, unknown)
        # 2-4. windows of pending messages.
        pending = [r for r in recipients if _claimable(shard.last.get(r.message_id))]
        provider = self.once.provider()
        batch = min(provider.max_batch, self.options.max_batch or provider.max_batch)
        # A window is one round of calls (a call per worker): small windows bound what a kill leaves unknown and
        # how long a pause takes, and the first calls start soon. The next window is rendered and claimed while the
        # calls of the previous ones are in flight; the sender waits only while the workers have more than two
        # rounds before them, so they never run dry during a render.
        one_body = getattr(provider, "one_body_per_call", False)
        per_call = batch if self.once.composer.batches(one_body=one_body) else 1
        concurrency = self.options.in_flight
        window = max(per_call * concurrency, 64)
        for start in range(0, len(pending), window):
            if self._paused_or_cancelled():
                break
            self._window(shard, pending[start : start + window], flight, batch, one_body=one_body)
            # Calls waiting out a 429 hold no slot: keep as many more in hand, so the slots never run dry.
            flight.collect(until=2 * concurrency + self.once.gate.parked)
            if self._stop:
                break
        flight.done_claiming(shard)

    def _paused_or_cancelled(self) -> bool:
        state = ledger.control(self.project, self.run_id)
        if state.state != "active":
            self._stop = f"{state.state} by {state.by or '?'}" + (f": {state.reason}" if state.reason else "")
            return True
        return False

    def _window(
        self, shard: ledger.Shard, window: list[Recipient], flight: Flight, max_batch: int, *, one_body: bool
    ) -> None:
        screen, stamp = self.once.screen, self.once.stamp
        screen.refresh()
        now = self.options.now()
        done: list[ledger.Entry] = []  # skipped or failed before any call
        ready: list[_Item] = []
        reason_of, compose_any = screen.reason, self.once.composer.compose_any
        sw = self.options.send_window
        for r in window:
            reason = reason_of(r.profile_id, r.address)
            if reason is not None:
                done.append(stamp.entry(r, "skipped", 0, reason=reason))
                continue
            if sw is not None and r.group != "seed" and not sw.allows(now, r.time_zone, self.time_zone):
                continue  # deferred: stays pending for a later run of the send
            try:
                ready.append((r, compose_any(r)))
            except TemplateError as exc:
                done.append(stamp.entry(r, "failed", 0, reason=f"template: {exc}"))
        shard.append(done)
        self._done_now += len(done)
        if not ready:
            return
        self._throttle.take(len(ready))
        self.once.claim(shard, (r for r, _ in ready))  # durable before the call
        flight.submit(shard, [[m for _, m in unit] for unit in units(ready, max_batch, one_body=one_body)])

    # ------------------------------------------------------------------ what the flight tells (workers.Recorder)

    def settle(self, shard: ledger.Shard, settled: list[Settled]) -> None:
        entries = self.once.settle(shard, settled)
        self._done_now += len(entries)
        self._sent_now += sum(1 for e in entries if e.state == "accepted")

    def report(self) -> None:
        if self.progress is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self._done_now / elapsed
        done = self._done_before + self._done_now
        total = len(self.recipients)
        eta = (total - done) / rate if rate > 0 else None
        self.progress(Progress(done, total, rate, eta))

    def stop(self, reason: str) -> None:
        self._stop = reason

    def release(self, shard: ledger.Shard, message_ids: Iterable[str], reason: str) -> None:
        self.once.release(shard, message_ids, reason)


def latest_entries(
    project: Project, run_id: str, known: Mapping[int, Mapping[str, ledger.Entry]] | None = None
) -> dict[str, ledger.Entry]:
    """The latest entry of every message of the run: ``known`` for the shards a sender kept while writing them
    (shard → message → entry), the journal for the others."""
    known = known or {}
    latest: dict[str, ledger.Entry] = {}
    for k in range(ledger.shard_count(project, run_id, 1)):
        latest.update(known[k] if k in known else ledger.read_shard(project, run_id, k))
    return latest


def _claimable(previous: ledger.Entry | None) -> bool:
    # Never claimed, or released: surely not sent (a refused account, or a lookup that did not find it).
    return previous is None or previous.state == "released"


_Item = tuple[Recipient, OutgoingMessage]


def units(ready: list[_Item], max_batch: int, *, one_body: bool = False) -> Iterator[list[_Item]]:
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


_collector_lock = threading.Lock()
_collector_users = 0
_collector_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def collector() -> Iterator[None]:
    """The cyclic garbage collector, tuned for a send that makes hundreds of thousands of small objects (recipients,
    messages, entries) and keeps many of them: its first threshold raised, and whatever the send freezes
    (``gc.freeze``) out of its sight, so its passes stop walking the run again and again (a tenth of the sender's
    CPU, measured). Reference counting frees everything as usual. The settings are the process's: the first send
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
