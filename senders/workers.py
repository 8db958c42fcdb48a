"""The provider calls of a batch send in flight: worker threads, and the shards held until their calls are recorded.

The sending thread renders, claims and hands calls to ``Workers``; ``Flight`` keeps each locked shard until its
last window is claimed and every call of it has ended and been recorded, then syncs its journal and releases its
lock. So the next shard's first window is rendered while the previous shard's calls are still in flight.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from senders import ledger
from senders.dispatch import Settled
from senders.providers.base import AccountRejected, OutgoingMessage


class Recorder(Protocol):
    """What the flight tells the sender: outcomes to write, progress, a stop, claims to release."""

    def settle(self, shard: ledger.Shard, settled: list[Settled]) -> None: ...

    def report(self) -> None: ...

    def stop(self, reason: str) -> None: ...

    def release(self, shard: ledger.Shard, message_ids: Iterable[str], reason: str) -> None: ...


class Workers:
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
            except BaseException as exc:  # handed to the sending thread, which decides
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
    claiming: bool = True  # the sender may still claim windows of this shard
    claimed: list[str] = field(default_factory=list)  # message ids claimed by this sender


class Flight:
    """The calls in flight, over one or more locked shards. A shard's lock is held until its sender is done
    claiming and every call of it has ended and been recorded; then its journal is synced and the lock released."""

    def __init__(self, recorder: Recorder, workers: Workers) -> None:
        self.recorder = recorder
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
                self.recorder.settle(self.shards[index].shard, settled)
            self.recorder.report()
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
            self.recorder.stop(f"the provider refused the account: {exc}")
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
                self.recorder.release(shard, sf.claimed, str(self.rejected))
            shard.sync()
            self.latest[index] = shard.last
            shard.release()
            del self.shards[index]

    def release_all(self) -> None:
        """After a failure: let go of every shard still held (what is claimed stays claimed: unknown later)."""
        for sf in self.shards.values():
            sf.shard.release()
        self.shards.clear()
