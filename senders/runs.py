"""A ledger run as the sender needs it (a delivery's prepared run, a journey step's run, a run's proofs), and the
composer of its messages."""

from __future__ import annotations

from dataclasses import dataclass

from herald.campaigns.plans import Delivery
from herald.content.render import Renderer
from senders.compose import Composer
from senders.exactly_once import Stamp
from senders.links import Links


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run's delivery: ids, channel, topic, template, the fallback time zone of its recipients and its
    content hash. Equal when every field is equal."""

    run_id: str
    delivery_id: str
    campaign_id: str
    channel: str
    topic: str | None
    template: str
    time_zone: str
    content_hash: str  # what the recipients receive apart from their data (template, sender, channel, topic)

    @classmethod
    def of(cls, delivery: Delivery, run_id: str, campaign_id: str, content_hash: str = "") -> RunInfo:
        """A run of ``delivery`` as its plan gives it now (a journey step's, a run's proofs)."""
        return cls(
            run_id,
            delivery.id,
            campaign_id,
            delivery.channel,
            delivery.topic,
            delivery.template,
            delivery.schedule.time_zone,
            content_hash,
        )

    @property
    def stamp(self) -> Stamp:
        return Stamp(self.run_id, self.channel, self.delivery_id, self.content_hash)


def run_composer(renderer: Renderer, info: RunInfo, links: Links, *, mark: str = "") -> Composer:
    """The composer of a run's messages: its template, ids and signed links (``mark``: proofs)."""
    return Composer(
        renderer,
        info.template,
        run_id=info.run_id,
        channel=info.channel,
        delivery_id=info.delivery_id,
        campaign_id=info.campaign_id,
        links=links,
        mark=mark,
    )
