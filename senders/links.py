"""Signed per-message links: one-click unsubscribe (RFC 8058) and the preference page.

A link carries the message id and an HMAC of it under ``HERALD_LINK_SECRET``, so the public endpoints can
tell which message (hence which profile, through the ledger) it came from, and nobody can forge another
person's link. The token holds no personal data.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from senders.errors import ProviderConfigError

DEFAULT_PUBLIC_URL = "http://localhost:8700"


@dataclass(frozen=True, slots=True)
class Links:
    public_url: str
    secret: bytes = field(repr=False)
    unsubscribe_mailto: str = ""  # e.g. unsubscribe@shop.example; empty: no mailto in List-Unsubscribe

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, required: bool = True) -> Links:
        env = os.environ if env is None else env
        secret = env.get("HERALD_LINK_SECRET", "")
        if not secret:
            if required:
                raise ProviderConfigError(
                    "HERALD_LINK_SECRET is not set: unsubscribe and preference links must be signed"
                )
            secret = "unsigned-preview-only"
        return cls(
            public_url=env.get("HERALD_PUBLIC_URL", DEFAULT_PUBLIC_URL).rstrip("/"),
            secret=secret.encode(),
            unsubscribe_mailto=env.get("HERALD_UNSUBSCRIBE_MAILTO", ""),
        )

    def token(self, message_id: str) -> str:
        mac = hmac.digest(self.secret, message_id.encode(), "sha256")[:16]  # one-shot: no HMAC object per message
        return f"{message_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def verify(self, token: str) -> str | None:
        """The message id a token was made for, or None if it was not made with this secret."""
        message_id, _, _ = token.partition(".")
        return message_id if message_id and hmac.compare_digest(self.token(message_id), token) else None

    def scoped_token(self, purpose: str, value: str) -> str:
        """A token for ``value`` that is only valid for ``purpose`` (e.g. ``inbox``, ``confirm``), so a link
        made for one page can never open another; ``value`` must not contain a dot."""
        if "." in value or ":" in purpose:
            raise ValueError(f"cannot sign {value!r} for {purpose!r}: no dots in values, no colons in purposes")
        mac = hmac.digest(self.secret, f"{purpose}:{value}".encode(), "sha256")[:16]
        return f"{value}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def verify_scoped(self, purpose: str, token: str) -> str | None:
        """The value a ``purpose`` token was made for, or None if it was not made for it with this secret."""
        value, _, _ = token.partition(".")
        if not value:
            return None
        return value if hmac.compare_digest(self.scoped_token(purpose, value), token) else None

    def unsubscribe_url(self, message_id: str, token: str | None = None) -> str:
        return f"{self.public_url}/u/{token or self.token(message_id)}"

    def preferences_url(self, message_id: str, token: str | None = None) -> str:
        return f"{self.public_url}/p/{token or self.token(message_id)}"

    def list_unsubscribe_headers(self, message_id: str, token: str | None = None) -> dict[str, str]:
        """RFC 2369 / RFC 8058 headers: an https one-click URL (and a mailto when configured)."""
        token = token or self.token(message_id)
        targets = [f"<{self.unsubscribe_url(message_id, token)}>"]
        if self.unsubscribe_mailto:
            subject = "unsubscribe%20" + quote(token)
            targets.append(f"<mailto:{self.unsubscribe_mailto}?subject={subject}>")
        return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
