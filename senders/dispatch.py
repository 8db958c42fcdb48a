"""One provider call with every rule about retrying it: the only place that decides whether to try again.

- 429: wait as long as the provider says (``Retry-After`` / ``X-RateLimit-Reset``), for every worker at once.
- 5xx, refused connections: retry with exponential backoff and full jitter, up to ``max_attempts``.
- Timeouts and dropped connections are *ambiguous*: the provider may have accepted the call. Never retry
  blindly: look the messages up; found → accepted, surely absent → retry, cannot tell → unknown.
- 400 / 413 on a call of several messages: split it in halves to find the messages at fault; a single
  message's rejection fails that message only.
- 401 / 403: stop everything (AccountRejected propagates).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from senders.providers.base import (
    AmbiguousFault,
    Outcome,
    OutgoingMessage,
    Provider,
    ProviderFault,
    RateLimited,
    RequestRejected,
    TransientFault,
)


@dataclass(frozen=True, slots=True)
class Settled:
    """The end of one message's call: ``accepted``, ``failed`` or ``unknown``, with attempts and reason."""

    message_id: str
    state: str
    attempts: int
    provider_id: str = ""
    reason: str = ""


@dataclass
class Gate:
    """Shared by all workers of a job: a provider's 429 pauses everyone, not just the worker that got it."""

    _until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    events: Counter[str] = field(default_factory=Counter)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        while (delay := self._until - time.monotonic()) > 0:
            time.sleep(min(delay, 0.5))

    def count(self, what: str) -> None:
        with self._lock:
            self.events[what] += 1


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 20.0
    max_rate_limit_waits: int = 50
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def call(provider: Provider, messages: Sequence[OutgoingMessage], gate: Gate, policy: RetryPolicy) -> list[Settled]:
    """Hand ``messages`` to ``provider`` once, retrying only when that cannot send anything twice."""
    attempts = 0
    waits = 0
    last_reason = ""
    while True:
        gate.wait()
        attempts += 1
        try:
            outcomes = provider.send(messages)
        except RateLimited as exc:
            gate.count("rate_limited")
            waits += 1
            attempts -= 1  # a 429 is the provider pacing us, not a failed attempt
            last_reason = str(exc)
            if waits > policy.max_rate_limit_waits:
                return [Settled(m.message_id, "failed", attempts, reason=f"retryable: {last_reason}") for m in messages]
            gate.hold(exc.retry_after + random.uniform(0, 0.25))
            continue
        except TransientFault as exc:
            gate.count("transient")
            last_reason = str(exc)
            if attempts >= policy.max_attempts:
                return [
                    Settled(m.message_id, "failed", attempts, reason=f"retryable: gave up after {attempts}: {exc}")
                    for m in messages
                ]
            policy.sleep(policy.backoff(attempts))
            continue
        except AmbiguousFault as exc:
            gate.count("ambiguous")
            last_reason = str(exc)
            return _after_ambiguity(provider, messages, gate, policy, attempts, last_reason)
        except RequestRejected as exc:
            gate.count("rejected")
            if len(messages) > 1:
                half = len(messages) // 2
                return call(provider, messages[:half], gate, policy) + call(provider, messages[half:], gate, policy)
            return [Settled(messages[0].message_id, "failed", attempts, reason=str(exc))]
        return _settled(messages, outcomes, attempts)


def lookup(
    provider: Provider, message_ids: Sequence[str], gate: Gate, policy: RetryPolicy
) -> Mapping[str, bool | None]:
    """``provider.lookup`` with retries: a lookup only reads, so any failure may simply be tried again."""
    attempts = 0
    while True:
        gate.wait()
        attempts += 1
        try:
            return provider.lookup(message_ids)
        except RateLimited as exc:
            gate.count("rate_limited")
            gate.hold(exc.retry_after + random.uniform(0, 0.25))
            if attempts >= policy.max_rate_limit_waits:
                raise
        except (TransientFault, AmbiguousFault):
            gate.count("lookup_retried")
            if attempts >= policy.max_attempts:
                raise
            policy.sleep(policy.backoff(attempts))


def _settled(messages: Sequence[OutgoingMessage], outcomes: list[Outcome], attempts: int) -> list[Settled]:
    by_id = {o.message_id: o for o in outcomes}
    out = []
    for m in messages:
        o = by_id.get(m.message_id)
        if o is None:  # a provider that forgot a message cannot be trusted about it
            out.append(Settled(m.message_id, "unknown", attempts, reason="the provider's answer did not mention it"))
        else:
            out.append(Settled(m.message_id, o.status, attempts, o.provider_id, o.reason))
    return out


def _after_ambiguity(
    provider: Provider,
    messages: Sequence[OutgoingMessage],
    gate: Gate,
    policy: RetryPolicy,
    attempts: int,
    reason: str,
) -> list[Settled]:
    try:
        found = lookup(provider, [m.message_id for m in messages], gate, policy)
    except ProviderFault as exc:  # a failed lookup tells nothing: leave the messages unknown
        found = {}
        reason = f"{reason}; lookup failed: {exc}"
    accepted = [m for m in messages if found.get(m.message_id) is True]
    absent = [m for m in messages if found.get(m.message_id) is False]
    unclear = [m for m in messages if found.get(m.message_id) is None]
    out = [Settled(m.message_id, "accepted", attempts, "lookup", f"found after: {reason}") for m in accepted]
    out += [Settled(m.message_id, "unknown", attempts, reason=f"ambiguous: {reason}") for m in unclear]
    if absent:
        if attempts >= policy.max_attempts:
            out += [
                Settled(m.message_id, "failed", attempts, reason=f"retryable: gave up after {attempts}: {reason}")
                for m in absent
            ]
        else:
            policy.sleep(policy.backoff(attempts))
            retried = call(provider, absent, gate, policy)
            out += [Settled(s.message_id, s.state, s.attempts + attempts, s.provider_id, s.reason) for s in retried]
    return out
