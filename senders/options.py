"""How a send goes (``SendOptions``, for ``herald send`` and library callers) and how far it is (``Progress``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from herald import clock
from senders.dispatch import Gate, RetryPolicy
from senders.governor import GovernorSettings, RateGovernor
from senders.pacing import SendWindow


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How one send goes. Equal when every field is equal."""

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

    @property
    def in_flight(self) -> int:
        """Provider calls at once."""
        return max(1, self.concurrency)

    def gate(self) -> Gate:
        """The send's shared gate: one rate governor for the provider, with ``in_flight`` calls at most."""
        return Gate(governor=RateGovernor(dataclasses.replace(self.governor, in_flight=self.in_flight)))


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a send is: messages settled of the total, the rate in this process, the time left. Equal when
    every field is equal."""

    done: int
    total: int
    rate: float  # messages settled per second in this process
    eta_seconds: float | None
