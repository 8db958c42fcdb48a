"""Every error the delivery side raises on purpose.

    SenderError
    ├── ProviderFault          a provider call failed (see senders.providers.base for the kinds)
    ├── SendRefused            the run may not be sent (not approved, blocked, cancelled, unknown run)
    ├── LedgerError            the send ledger cannot be read or written
    ├── ProviderConfigError    a provider is set up wrongly (missing API key, bad host)
    └── TrackingError          a tracking endpoint is misconfigured, or an event file cannot be ingested

The CLI turns each into one clear line on stderr and a non-zero exit code. No message ever holds a credential.
"""

from __future__ import annotations

from herald.errors import HeraldError


class SenderError(HeraldError):
    """Base class of every error the sender side raises on purpose."""


class SendRefused(SenderError):
    """The run may not be sent now; the message says why."""

    exit_code = 3


class LedgerError(SenderError):
    """The send ledger cannot be read or written."""


class ProviderConfigError(SenderError):
    """A provider is set up wrongly (missing credentials, bad host); the message says which setting."""

    exit_code = 2


class TrackingError(SenderError):
    """A tracking endpoint is misconfigured, or an event file cannot be ingested; the message says which."""

    exit_code = 2
