"""The one interface every channel's provider implements, and the outcomes and faults it reports.

A provider makes *one call* to the outside world for a list of messages (``max_batch`` of them at most) and
tells the job, per message, what became of it. It never retries and never touches the ledger: the job does
both, so the rules about retries and duplicates live in one place (``senders.dispatch``).

Faults are raised, not returned, and say whether the messages of the call may have gone out:

    ProviderFault
    ├── RateLimited          429: nothing was accepted; retry after ``retry_after`` seconds
    ├── TransientFault       5xx and the like: nothing was accepted; retry with backoff
    ├── AmbiguousFault       timeout or connection lost after the request left: it may have been accepted
    ├── RequestRejected      400 / 413 / 422: this request is wrong; its messages fail, the job goes on
    └── AccountRejected      401 / 403: nothing can be sent with these credentials; the job stops

Exception text never contains credentials: providers build messages from status codes and response bodies only.

``OneMessagePerRequest`` is the base of the providers whose API takes one message per request and keeps nothing
Herald could look a message up by (Twilio, FCM).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from senders.errors import SenderError

OutcomeStatus = Literal["accepted", "failed"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered message for one recipient, ready for its provider."""

    message_id: str  # deterministic per (run, recipient, channel); carried to the provider for correlation
    run_id: str
    recipient_id: str
    channel: str
    address: str  # email address, E.164 phone, device token, profile id (in-app) or postal label (direct mail)
    subject: str = ""
    preheader: str = ""
    title: str = ""
    text: str = ""
    html: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe (email)
    data: Mapping[str, str] = field(default_factory=dict)  # channel extras: push data, postal fields, ...
    # Email only: when set, ``html`` and ``text`` are bodies shared by every message of the call, with tokens
    # the provider replaces by these values per recipient (herald.content.shared).
    substitutions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the provider said about one message of a call."""

    message_id: str
    status: OutcomeStatus
    provider_id: str = ""  # the provider's id for the message or the request (e.g. X-Message-Id, Twilio SID)
    reason: str = ""  # why it failed, in the provider's words (never credentials)


@dataclass(frozen=True, slots=True)
class Doubt:
    """What the sender knows of a message whose call ended without an answer, for a lookup: where it went and
    since when it has been in doubt (every request for it had left by then). Equal when every field is."""

    message_id: str
    address: str = ""  # the recipient's address as sent ("" when not known)
    since: dt.datetime | None = None  # timezone-aware; None: not known, so an absence proves nothing


class ProviderFault(SenderError):
    """A provider call failed as a whole; subclasses say whether its messages may have gone out."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(ProviderFault):
    """The provider asked us to slow down; nothing in the call was accepted."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TransientFault(ProviderFault):
    """A server-side failure (5xx, refused connection): nothing in the call was accepted; retry later."""


class AmbiguousFault(ProviderFault):
    """The request may have reached the provider (timeout, dropped connection): do not retry blindly."""


class RequestRejected(ProviderFault):
    """The provider refused this request as invalid (400, 413, ...): its messages fail, others can go on."""


class AccountRejected(ProviderFault):
    """The provider refused the credentials or the account (401, 403): nothing more can be sent."""


class Provider(Protocol):
    """A channel's gateway. Instances are used by one thread at a time; ``open`` makes one per worker."""

    channel: str
    max_batch: int  # most messages one ``send`` call may carry

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        """Hand ``messages`` to the provider in one call; one Outcome per message, or raise a ProviderFault."""
        ...

    def lookup(
        self, message_ids: Sequence[str], *, doubts: Mapping[str, Doubt] | None = None
    ) -> Mapping[str, bool | None]:
        """Whether the provider has each message (True), surely has not and never will (False: it may be sent
        again), or cannot tell yet (None). ``doubts`` (by message id) say what the sender knows of each message;
        a provider whose records lag the send answers False only once the message has been in doubt longer than
        that lag.

        Used to settle messages whose call ended ambiguously, so they are neither lost nor sent twice."""
        ...

    def close(self) -> None:
        """Release connections and files; called once when the worker stops."""
        ...


class OneMessagePerRequest(ABC):
    """A provider whose API takes one message per request (``max_batch = 1``) and cannot be asked what it
    accepted: ``send`` hands the call's message to ``send_one``, and ``lookup`` never tells."""

    channel: str
    max_batch = 1
    name: str  # the provider as its errors name it

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        if not messages:
            return []
        if len(messages) > self.max_batch:
            raise ValueError(f"{self.name} takes one message per request, not {len(messages)}")
        return [self.send_one(messages[0])]

    @abstractmethod
    def send_one(self, message: OutgoingMessage) -> Outcome:
        """Hand ``message`` to the provider in one request: its Outcome, or raise a ProviderFault."""

    def lookup(
        self, message_ids: Sequence[str], *, doubts: Mapping[str, Doubt] | None = None
    ) -> Mapping[str, bool | None]:
        """Always "cannot tell": nothing the provider lists carries our id (see its module notes)."""
        return dict.fromkeys(message_ids)
