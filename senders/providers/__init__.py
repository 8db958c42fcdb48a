"""Providers per channel, behind one interface (``senders.providers.base.Provider``).

``open_provider`` makes one instance per worker thread from the environment: credentials come only from
there, never from specs, the warehouse or the command line.
"""

from __future__ import annotations

from collections.abc import Mapping

from herald.campaigns.plans import Delivery
from herald.project import Project
from senders.errors import ProviderConfigError
from senders.providers.base import Provider


def open_provider(
    delivery: Delivery,
    *,
    project: Project,
    run_id: str,
    campaign_id: str,
    env: Mapping[str, str],
    sandbox: bool = False,
) -> Provider:
    channel = delivery.channel
    if channel == "email":
        from senders.providers.sendgrid import SendGridProvider, SendGridSettings

        if delivery.sender is None:
            raise ProviderConfigError(f"delivery {delivery.id} has no sender (from_email) for email")
        return SendGridProvider(
            SendGridSettings.from_env(env),
            sender=delivery.sender,
            run_id=run_id,
            delivery_id=delivery.id,
            campaign_id=campaign_id,
            sandbox=sandbox,
        )
    if channel == "sms":
        from senders.providers.twilio import TwilioProvider, TwilioSettings

        return TwilioProvider(TwilioSettings.from_env(env))
    if channel == "push":
        from senders.providers.fcm import FcmProvider, FcmSettings

        return FcmProvider(FcmSettings.from_env(env), validate_only=sandbox)
    if channel == "in_app":
        from senders.providers.inbox import InboxProvider

        return InboxProvider(project, run_id=run_id)
    if channel == "direct_mail":
        from senders.providers.direct_mail import DirectMailProvider

        return DirectMailProvider(project, run_id, delivery.id)
    raise ProviderConfigError(f"no provider for channel {channel!r}")
