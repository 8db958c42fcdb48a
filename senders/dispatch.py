"""One provider call with every rule about retrying it: the only place that decides whether to try again.

- 429: nothing was accepted, so the call is retried once the provider's ``Retry-After`` has passed. Only the call
  that got it waits (outside its in-flight slot); the others go on at the shared rate the job's governor lowers
  for a moment (senders.governor). ``X-RateLimit-Remaining: 0`` holds every worker until ``X-RateLimit-Reset``.
- 5xx, refused connections: retry with exponential backoff and full jitter, up to ``max_attempts``.
- Timeouts and dropped connections are *ambiguous*: the provider may have accepted the call. Never retry
  blindly: look the messages up; found → accepted, surely absent → retry, cannot tell → unknown. A provider
  whose records lag the send (SendGrid's Email Activity) cannot yet be sure of an absence right after the call,
  so such messages usually end ``unknown`` here and are settled by a later sender (senders.exactly_once).
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

from herald import clock
from senders.governor import RateGovernor
from senders.providers.base import (
    AmbiguousFault,
    Doubt,
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
    """Shared by all workers of a job: the provider's rate governor, and counts of what the provider said."""

    governor: RateGovernor = field(default_factory=RateGovernor)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    events: Counter[str] = field(default_factory=Counter)
    _parked: int = 0

    def wait(self) -> None:
        """Wait for one request's turn (pacing and holds), without taking an in-flight slot."""
        self.governor.acquire()

    def count(self, what: str) -> None:
        with self._lock:
            self.events[what] += 1

    @property
    def parked(self) -> int:
        """Calls now waiting out a 429: they hold a worker but no in-flight slot."""
        return self._parked

    def park(self, seconds: float, sleep: Callable[[float], None]) -> None:
        with self._lock:
            self._parked += 1
        try:
            sleep(seconds)
        finally:
            with self._lock:
                self._parked -= 1


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
        attempts += 1
        try:
            with gate.governor.turn():
                outcomes = provider.send(messages)
        except RateLimited as exc:
            gate.count("rate_limited")
            waits += 1
            attempts -= 1  # a 429 is the provider pacing us, not a failed attempt
            last_reason = str(exc)
            delay = gate.governor.rate_limited(exc.retry_after, _rate_headers(provider))
            if waits > policy.max_rate_limit_waits:
                return [Settled(m.message_id, "failed", attempts, reason=f"retryable: {last_reason}") for m in messages]
            # Only this call waits out Retry-After, holding no slot; a 429 answers "not accepted", so retrying is safe.
            gate.park(delay + random.uniform(0, 0.25), policy.sleep)
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
        gate.governor.succeeded(_rate_headers(provider))
        return _settled(messages, outcomes, attempts)


def lookup(
    provider: Provider,
    message_ids: Sequence[str],
    gate: Gate,
    policy: RetryPolicy,
    *,
    doubts: Mapping[str, Doubt] | None = None,
) -> Mapping[str, bool | None]:
    """``provider.lookup`` with retries: a lookup only reads, so any failure may simply be tried again.
    ``doubts``: what the sender knows of each message (see ``Provider.lookup``)."""
    attempts = 0
    while True:
        attempts += 1
        try:
            with gate.governor.turn():
                found = provider.lookup(message_ids, doubts=doubts)
            gate.governor.succeeded(_rate_headers(provider))
            return found
        except RateLimited as exc:
            gate.count("rate_limited")
            delay = gate.governor.rate_limited(exc.retry_after, _rate_headers(provider))
            if attempts >= policy.max_rate_limit_waits:
                raise
            gate.park(delay + random.uniform(0, 0.25), policy.sleep)
        except (TransientFault, AmbiguousFault):
            gate.count("lookup_retried")
            if attempts >= policy.max_attempts:
                raise
            policy.sleep(policy.backoff(attempts))


def _rate_headers(provider: Provider) -> Mapping[str, str]:
    # Providers over senders.http expose their last answer's rate-limit headers; others report none.
    headers: Mapping[str, str] | None = getattr(provider, "rate_headers", None)
    return headers or {}


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
    # In doubt from now: every attempt of this call has ended, so no request for these messages can still leave.
    since = clock.now()
    doubts = {m.message_id: Doubt(m.message_id, m.address, since) for m in messages}
    try:
        found = lookup(provider, [m.message_id for m in messages], gate, policy, doubts=doubts)
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
