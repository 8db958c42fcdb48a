"""``herald proof DELIVERY``: the latest prepared run's messages, rendered and sent only to the delivery's seed
addresses and test profiles, marked as proofs (the composer's ``mark``), through the same composer and provider
as the real send.

A proof is not part of the run: it has its own message ids, never touches the run's ledger (so it can neither
use up nor duplicate a real message), and is recorded in ``warehouse/ledger/<run>/proofs.jsonl``: who asked,
when, to which address, from whose data, and what the provider said.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from herald import clock, warehouse
from herald.campaigns.catalog import Catalog
from herald.content.render import Renderer
from herald.errors import TemplateError
from herald.project import Project
from senders import ledger
from senders.compose import POSTAL_FIELDS, Recipient
from senders.dispatch import Gate, RetryPolicy, call
from senders.errors import SendRefused
from senders.links import Links
from senders.providers import open_provider
from senders.runs import RunInfo, run_composer
from senders.to_profiles import ADDRESS_COLUMN, profile_rows

PROOF_PREFIX = "[Proof] "


@dataclass(frozen=True, slots=True)
class ProofResult:
    message_id: str
    address: str
    data_of: str  # the recipient whose data the proof shows
    state: str  # accepted, failed or unknown
    provider_id: str = ""
    reason: str = ""


def _latest_run(project: Project, delivery_id: str) -> tuple[str, str]:
    con = warehouse.connect(project)
    try:
        row = con.execute(
            "select run_id, campaign_id from delivery_runs where delivery_id = ? order by run_id desc limit 1",
            [delivery_id],
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise SendRefused(f"delivery {delivery_id} has no prepared run: `herald prepare {delivery_id}` first")
    return str(row[0]), str(row[1])


def _recipients(project: Project, run_id: str, channel: str, test_profiles: tuple[str, ...]) -> list[Recipient]:
    stamp = clock.now().strftime("%Y%m%dT%H%M%S%f")
    con = warehouse.connect(project)
    try:
        seeds = (
            con.execute(
                "select recipient_id, profile_id, address, recipient_group, variant, payload from send_lists"
                " where run_id = ? and recipient_group = 'seed' order by recipient_id",
                [run_id],
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()
    profiles = profile_rows(project, f"*, {ADDRESS_COLUMN.get(channel, 'profile_id')} as proof_address", test_profiles)
    out = []
    for row in seeds:
        mid = ledger.message_id(run_id, f"proof:{stamp}:{row['recipient_id']}", channel)
        out.append(Recipient.from_row(mid, row))
    for row in profiles:
        pid = str(row["profile_id"])
        payload = {k: _plain(v) for k, v in row.items() if k not in POSTAL_FIELDS or k == "full_name"}
        out.append(
            Recipient(
                message_id=ledger.message_id(run_id, f"proof:{stamp}:{pid}", channel),
                recipient_id=f"test:{pid}",
                profile_id=pid,
                address=str(row.get("proof_address") or ""),
                group="test",
                variant="",
                payload=payload,
                extras={k: str(row[k]) for k in POSTAL_FIELDS if row.get(k) is not None},
            )
        )
    return out


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def send_proofs(
    project: Project, delivery_id: str, *, requested_by: str, env: Mapping[str, str] | None = None
) -> list[ProofResult]:
    """Send the latest run's proofs to the delivery's seeds and test profiles; returns one result per proof."""
    env = dict(os.environ if env is None else env)
    ref = Catalog.of(project).delivery(delivery_id)
    d = ref.delivery
    run_id, campaign_id = _latest_run(project, delivery_id)
    recipients = _recipients(project, run_id, d.channel, d.test_profiles)
    if not recipients:
        raise SendRefused(f"delivery {delivery_id} names no seed addresses or test profiles to send proofs to")
    info = RunInfo.of(d, run_id, campaign_id)
    renderer = Renderer(project.specs_dir / "templates")
    composer = run_composer(renderer, info, Links.from_env(env), mark=PROOF_PREFIX)
    provider = open_provider(d, project=project, run_id=run_id, campaign_id=campaign_id, env=env)
    results: list[ProofResult] = []
    try:
        for r in recipients:
            if not r.address:
                results.append(ProofResult(r.message_id, "", r.recipient_id, "failed", reason="no address"))
                continue
            try:
                m = composer.compose(r)
            except TemplateError as exc:
                results.append(ProofResult(r.message_id, r.address, r.recipient_id, "failed", reason=str(exc)))
                continue
            [s] = call(provider, [m], Gate(), RetryPolicy(max_attempts=3))
            results.append(ProofResult(r.message_id, r.address, r.recipient_id, s.state, s.provider_id, s.reason))
    finally:
        provider.close()
    _record(project, run_id, requested_by, results)
    return results


def _record(project: Project, run_id: str, requested_by: str, results: list[ProofResult]) -> None:
    folder = ledger.run_dir(project, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    at = clock.now().isoformat(timespec="seconds")
    lines = "".join(
        json.dumps({**dataclasses.asdict(r), "run_id": run_id, "requested_by": requested_by, "at": at}) + "\n"
        for r in results
    )
    fd = os.open(folder / "proofs.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
