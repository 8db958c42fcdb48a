"""Exactly once: claim in the ledger → provider call → settle, the one protocol every ledgered message goes through.

A run's messages (``senders.batch``: ``herald send``, journeys), a transactional message and a form's confirmation
email all go through ``ExactlyOnce``:

1. **doubts first**: a claim whose sender stopped during its call, or a message left ``unknown``, is never sent
   blindly; the provider is asked (found → ``accepted``, surely absent → ``released``, cannot tell → ``unknown``);
2. **decide**: consent and quarantine are re-checked now (a ``Screen``), then the message is composed;
3. **claim**: a ``claimed`` entry is written and fsynced *before* the provider call;
4. **call**: ``senders.dispatch`` makes the call with every retry rule and the rate governor;
5. **settle**: the outcome is appended (not fsynced: an outcome lost to a crash only leaves its claim, which step 1
   settles later). A provider that refuses the account releases what it was given: surely not sent.

Where the entries go is a ``Journal``: a run's shard, whose lock a sender holds for the whole job, a server's shard,
locked for each step, or a subscription's journal. Each step holds it (``held``) while it reads and writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, cast

from herald import clock
from senders import ledger
from senders.compose import Composer, Recipient
from senders.dispatch import Gate, RetryPolicy, Settled, call, lookup
from senders.errors import SenderError
from senders.providers.base import AccountRejected, Doubt, OutgoingMessage, Provider, ProviderFault

MAX_REASON = 500  # characters of a reason kept in the ledger (a provider's error text can be long)
LOOKUP_CHUNK = 500  # messages per lookup
STOPPED = "the sender stopped during the provider call"


class Held(Protocol):
    """A journal while one step holds it: the latest entry of a message, and appends."""

    def latest(self, message_id: str) -> ledger.Entry | None: ...

    def append(self, entries: Iterable[ledger.Entry], *, sync: bool = True) -> None: ...


class Journal(Protocol):
    """Where one message's entries go; ``held`` takes whatever lock its writers share, for one step."""

    def held(self) -> AbstractContextManager[Held]: ...


class Screen(Protocol):
    """Who must not get a message now (``senders.suppression.Suppressions`` for a run or a journey)."""

    def reason(self, profile_id: str | None, address: str) -> str | None: ...

    def refresh(self) -> int: ...


class Unscreened:
    """A ``Screen`` that stops nobody: a confirmation email goes to whoever asked for it (double opt-in is the
    consent), and settling doubts decides nothing."""

    def reason(self, profile_id: str | None, address: str) -> str | None:
        return None

    def refresh(self) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class Stamp:
    """What every ledger entry of one run's messages carries besides the recipient's: the run, channel, delivery
    and content hash. Equal when every field is equal."""

    run_id: str
    channel: str
    delivery_id: str
    content_hash: str

    def entry(self, r: Recipient, state: ledger.State, attempt: int, *, reason: str = "", at: str = "") -> ledger.Entry:
        """A new entry of ``r``'s message; ``at`` (the time of the write it goes in) may be given by the caller."""
        return ledger.Entry(
            message_id=r.message_id,
            state=state,
            attempt=attempt,
            run_id=self.run_id,
            recipient_id=r.recipient_id,
            profile_id=r.profile_id or "",
            channel=self.channel,
            delivery_id=self.delivery_id,
            content_hash=self.content_hash,
            reason=reason,
            at=at or ledger.now(),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What is to become of one recipient's message before anything is written: ``message`` to send, or journaled
    as ``skipped`` for ``reason`` (opted out, quarantined). Equal when every field is equal."""

    recipient: Recipient
    message: OutgoingMessage | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Sent:
    """What one ``send_one`` came to: the message's latest entry, whether this process wrote it (False: another
    writer moved the message first and ``entry`` is what it wrote), and the provider call's seconds. Equal when
    every field is equal."""

    entry: ledger.Entry
    ours: bool = True
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ExactlyOnce:
    """The protocol for one run's messages: one template (``composer``), one provider per thread (``provider``),
    one rate ``gate`` and retry ``policy``, one ``screen``. ``count_retries``: an outcome's attempt counts each
    provider attempt of its call (a transactional message's), not only its claims (a run's). ``log``: where a
    failed lookup is reported besides the gate's counts. Equal when every field is equal."""

    stamp: Stamp
    composer: Composer
    provider: Callable[[], Provider]
    gate: Gate = field(kw_only=True)
    policy: RetryPolicy = field(kw_only=True)
    screen: Screen = field(default_factory=Unscreened, kw_only=True)
    count_retries: bool = field(default=False, kw_only=True)
    log: logging.Logger | None = field(default=None, kw_only=True)

    # ------------------------------------------------------------------ 1. doubts

    def mark_unknown(self, held: Held, claims: Iterable[ledger.Entry]) -> None:
        """Claims a stopped sender left (its lock is ours now): ``unknown`` from now on, before they are asked about."""
        at = ledger.now()
        held.append([c.follow("unknown", reason=STOPPED, at=at) for c in claims])

    def settle_doubts(
        self, journal: Journal, doubts: Sequence[tuple[ledger.Entry, str]]
    ) -> dict[str, ledger.Entry | None]:
        """Ask the provider about messages in doubt, given as (latest entry, address: "" when not known): an
        ``unknown`` one is in doubt since that entry, a claim whose writer died since now. Found → ``accepted``;
        surely absent → ``released`` (it may be sent again); cannot tell → ``unknown``. The provider is asked
        without holding the journal; an answer is written only if nobody moved the message meanwhile. Returns each
        message's latest entry, None where another writer moved it. A failed lookup tells nothing: it and the
        chunks after it stay in doubt."""
        out: dict[str, ledger.Entry | None] = {}
        failed = False
        for start in range(0, len(doubts), LOOKUP_CHUNK):
            chunk = doubts[start : start + LOOKUP_CHUNK]
            found: Mapping[str, bool | None] = {}
            if not failed:
                in_doubt = {e.message_id: Doubt(e.message_id, address, _doubt_since(e)) for e, address in chunk}
                try:
                    found = lookup(self.provider(), list(in_doubt), self.gate, self.policy, doubts=in_doubt)
                except ProviderFault as exc:
                    failed = True
                    self.gate.count(f"lookup failed: {type(exc).__name__}")
                    if self.log is not None:
                        self.log.warning("lookup of %d message(s) failed: %s", len(chunk), exc)
            with journal.held() as held:
                at = ledger.now()
                entries = []
                for e, _ in chunk:
                    if held.latest(e.message_id) != e:
                        out[e.message_id] = None
                        continue
                    answer = found.get(e.message_id)
                    if answer is True:
                        entries.append(e.follow("accepted", provider_id="lookup", reason="found", at=at))
                    elif answer is False:
                        entries.append(e.follow("released", reason="not found at the provider", at=at))
                    elif e.state == "claimed":
                        entries.append(e.follow("unknown", reason=STOPPED, at=at))
                    else:
                        out[e.message_id] = e  # stays unknown: a later sender (or provider events) settles it
                        continue
                    out[e.message_id] = entries[-1]
                held.append(entries)
        return out

    # ------------------------------------------------------------------ 2-5. decide, claim, call, settle

    def decide(self, r: Recipient) -> Decision:
        """Screen ``r`` now, then compose its message; a template error raises TemplateError, nothing written."""
        reason = self.screen.reason(r.profile_id, r.address)
        if reason is not None:
            return Decision(r, None, reason)
        return Decision(r, self.composer.compose(r))

    def claim(self, held: Held, recipients: Iterable[Recipient]) -> None:
        """Claim the recipients' messages (each the next attempt), durable before any provider call."""
        at = ledger.now()
        claims = []
        for r in recipients:
            previous = held.latest(r.message_id)
            claims.append(self.stamp.entry(r, "claimed", previous.attempt + 1 if previous else 1, at=at))
        held.append(claims)

    def call(self, messages: list[OutgoingMessage]) -> list[Settled]:
        """One provider call of claimed messages, with every retry rule (``senders.dispatch``)."""
        return call(self.provider(), messages, self.gate, self.policy)

    def settle(self, held: Held, settled: Sequence[Settled]) -> list[ledger.Entry]:
        """Record the outcomes of ended calls in one write (not fsynced: an outcome lost to a crash only makes its
        message unknown, never re-sent)."""
        at = ledger.now()
        entries = []
        for s in settled:
            claim = held.latest(s.message_id)
            assert claim is not None, f"no claim of {s.message_id}"
            attempt = claim.attempt - 1 + s.attempts if self.count_retries else claim.attempt
            state = cast(ledger.State, s.state)  # accepted, failed or unknown
            entries.append(
                claim.follow(state, attempt=attempt, provider_id=s.provider_id, reason=s.reason[:MAX_REASON], at=at)
            )
        held.append(entries, sync=False)
        return entries

    def release(self, held: Held, message_ids: Iterable[str], reason: str) -> None:
        """Messages still claimed whose call surely sent nothing (the account was refused): ``released``, so a
        later attempt may send them."""
        at = ledger.now()
        entries = []
        for m in message_ids:
            claim = held.latest(m)
            if claim is not None and claim.state == "claimed":
                entries.append(claim.follow("released", reason=reason[:MAX_REASON], at=at))
        held.append(entries)

    def send_one(self, journal: Journal, decision: Decision, *, seen: ledger.Entry | None) -> Sent:
        """Steps 3-5 for one message the caller decided on, having seen ``seen`` as its latest entry: nothing is
        written if another writer has moved it since. A refused account, or a provider that cannot be opened,
        releases the claim and raises."""
        r = decision.recipient
        with journal.held() as held:
            latest = held.latest(r.message_id)
            if latest is not None and latest != seen:
                return Sent(latest, ours=False)
            if decision.message is None:
                skipped = self.stamp.entry(r, "skipped", 0, reason=decision.reason)
                held.append([skipped])
                return Sent(skipped)
            self.claim(held, [r])
        began = time.perf_counter()
        try:
            settled = self.call([decision.message])
        except (AccountRejected, SenderError) as exc:  # bad credentials or setup: surely not sent
            with journal.held() as held:
                self.release(held, [r.message_id], str(exc))
            raise
        seconds = time.perf_counter() - began
        with journal.held() as held:
            [done] = self.settle(held, settled)
        return Sent(done, seconds=seconds)


def _doubt_since(entry: ledger.Entry) -> dt.datetime:
    # An unknown message has been in doubt since that entry; a claim whose writer died, since now at the latest
    # (its call may have left any time before).
    return dt.datetime.fromisoformat(entry.at) if entry.state == "unknown" else clock.now()
