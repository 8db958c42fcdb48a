"""Send one template to profiles named by id, exactly once: a journey's step (``orchestration.journeys``).

The recipients' data are their published profiles' columns the template reads; their address is the channel's
column (``ADDRESS_COLUMN``). The messages go through the same composer, suppression check, ledger and batch
sender as a delivery's run (``senders.batch``): claimed before the provider call, several calls in flight, a claim
a killed process left looked up at the provider, never sent blindly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from herald import warehouse
from herald.audiences.schema import PROFILES, from_contracts
from herald.campaigns.plans import Delivery
from herald.content.render import Renderer
from herald.project import Project
from senders import ledger
from senders.batch import BatchSend, latest_entries
from senders.compose import Recipient
from senders.exactly_once import ExactlyOnce
from senders.links import Links
from senders.options import Progress, SendOptions
from senders.providers import open_provider
from senders.providers.pool import ProviderPool
from senders.runs import RunInfo, run_composer
from senders.suppression import Suppressions

# The profiles column holding each channel's address.
ADDRESS_COLUMN = {"email": "email", "sms": "phone", "in_app": "profile_id", "direct_mail": "address_line1"}
# A run of messages to profiles is small and grows day by day: one shard (the first sender fixes the count).
ONE_SHARD = SendOptions(shards=1)


@dataclass(frozen=True, slots=True)
class ProfileSend:
    """What became of the messages to the profiles: how many ended in each ledger state ("pending" for those not
    reached), and why the send stopped early ("" when it did not). Equal when every field is equal."""

    states: Mapping[str, int]
    stopped: str = ""


def send_to_profiles(
    project: Project,
    delivery: Delivery,
    profile_ids: Sequence[str],
    *,
    run_id: str,
    campaign_id: str,
    consent: bool,
    env: Mapping[str, str],
    progress: Callable[[Progress], None] | None = None,
    options: SendOptions = ONE_SHARD,
) -> ProfileSend:
    """Send ``delivery``'s template to each profile at most once, in the ledger run ``run_id`` (a message's id
    derives from it and the profile id). ``consent``: opt-outs stop a message (quarantines always do)."""
    renderer = Renderer(project.specs_dir / "templates")
    info = RunInfo.of(delivery, run_id, campaign_id, renderer.load(delivery.template).content_hash)
    recipients = profile_recipients(project, renderer, delivery, profile_ids, run_id)
    providers = ProviderPool(
        lambda: open_provider(delivery, project=project, run_id=run_id, campaign_id=campaign_id, env=env)
    )
    suppressions = Suppressions(project, channel=delivery.channel, topic=delivery.topic, consent=consent)
    once = ExactlyOnce(
        info.stamp,
        run_composer(renderer, info, Links.from_env(env)),
        providers.get,
        gate=options.gate(),
        policy=options.retry,
        screen=suppressions,
    )
    try:
        providers.get()  # a provider that cannot be opened fails the send before anything is claimed
        result = BatchSend(project, run_id, recipients, once, options, progress=progress).run()
    finally:
        providers.close()
    latest = latest_entries(project, run_id, result.latest)
    states = Counter[str](latest[r.message_id].state if r.message_id in latest else "pending" for r in recipients)
    return ProfileSend(dict(states), result.stopped)


def profile_recipients(
    project: Project, renderer: Renderer, delivery: Delivery, profile_ids: Sequence[str], run_id: str
) -> list[Recipient]:
    """The profiles as recipients of ``delivery`` in ``run_id``, with the columns its template reads."""
    if not profile_ids:
        return []
    columns = set(from_contracts(project.root).columns(PROFILES))
    fields = sorted((renderer.fields(delivery.template) & columns) | {"language_code"})
    address = ADDRESS_COLUMN[delivery.channel]
    rows = profile_rows(project, f"profile_id, {address} as address, time_zone, {', '.join(fields)}", profile_ids)
    out = []
    for row in rows:
        payload = json.loads(json.dumps({f: row[f] for f in fields}, default=str))
        pid = str(row["profile_id"])
        out.append(
            Recipient(
                message_id=ledger.message_id(run_id, pid, delivery.channel),
                recipient_id=pid,
                profile_id=pid,
                address=str(row["address"]),
                group="target",
                variant="",
                payload=payload,
                time_zone=str(row["time_zone"] or ""),
            )
        )
    return out


def profile_rows(project: Project, select: str, profile_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The published profiles with these ids, in id order: the ``select`` list of columns of each, as a dict."""
    con = warehouse.connect(project)
    try:
        rel = con.execute(
            f"select {select} from profiles where profile_id in (select unnest(?)) order by profile_id",
            [list(profile_ids)],
        )
        rows: list[dict[str, Any]] = rel.to_arrow_table().to_pylist()
        return rows
    finally:
        con.close()
