"""What every public endpoint needs: the project, link signing, the secrets it checks, and a clock.

Secrets come only from the environment (never from specs or the warehouse):

    HERALD_SENDGRID_WEBHOOK_KEY   SendGrid's Event Webhook verification key (base64 DER, as SendGrid shows it)
    HERALD_WEBHOOK_TOLERANCE      seconds a signed webhook timestamp may differ from now (default 300)
    TWILIO_AUTH_TOKEN             checks X-Twilio-Signature on SMS status callbacks
    HERALD_CALLBACK_TOKEN         bearer token of push callbacks and other server-to-server calls
    HERALD_LINK_SECRET            signs unsubscribe, preference, inbox and confirmation links (see senders.links)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from herald.project import Project
from senders.errors import TrackingError
from senders.links import Links


@dataclass(frozen=True, slots=True)
class ServeContext:
    """Everything the endpoints share; built once per server from the environment."""

    project: Project
    links: Links
    sendgrid_webhook_key: str = field(default="", repr=False)
    webhook_tolerance_seconds: int = 300
    twilio_auth_token: str = field(default="", repr=False)
    callback_token: str = field(default="", repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    clock: Callable[[], float] = time.time

    @classmethod
    def from_env(
        cls, project: Project, env: Mapping[str, str] | None = None, *, clock: Callable[[], float] = time.time
    ) -> ServeContext:
        env = dict(os.environ if env is None else env)
        tolerance = env.get("HERALD_WEBHOOK_TOLERANCE", "300")
        if not tolerance.isdigit():
            raise TrackingError(f"HERALD_WEBHOOK_TOLERANCE must be a whole number of seconds, not {tolerance!r}")
        return cls(
            project=project,
            links=Links.from_env(env),
            sendgrid_webhook_key=env.get("HERALD_SENDGRID_WEBHOOK_KEY", ""),
            webhook_tolerance_seconds=int(tolerance),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            callback_token=env.get("HERALD_CALLBACK_TOKEN", ""),
            env=env,
            clock=clock,
        )
