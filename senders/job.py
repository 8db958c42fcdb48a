"""``herald send RUN``: turn a prepared, approved run's send list into messages, exactly once.

The job checks that the run may be sent (approved, not paused or cancelled), loads its sendable recipients from
the published warehouse, and hands them to ``senders.batch`` (shards, windows, concurrency) over
``senders.exactly_once`` (claim → call → settle); then it sums the run up. A dry run renders and validates every
message and records nothing.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from herald import warehouse
from herald.campaigns.approvals import check_send
from herald.campaigns.catalog import Catalog
from herald.campaigns.plans import Delivery
from herald.content.render import Renderer
from herald.errors import TemplateError
from herald.project import Project
from senders import ledger
from senders.batch import BatchSend, collector, latest_entries, units
from senders.compose import POSTAL_FIELDS, Recipient
from senders.dispatch import call
from senders.errors import SendRefused
from senders.exactly_once import ExactlyOnce
from senders.links import Links
from senders.options import Progress, SendOptions
from senders.providers import open_provider
from senders.providers.base import OutgoingMessage, Provider
from senders.providers.direct_mail import DirectMailProvider
from senders.providers.pool import ProviderPool
from senders.runs import RunInfo, run_composer
from senders.suppression import Suppressions

__all__ = ["SendJob", "SendSummary", "load_run"]


@dataclass(frozen=True, slots=True)
class SendSummary:
    """What a run came to: its recipients per state and reason, what this job sent, why it stopped. Equal when
    every field is equal."""

    run_id: str
    total: int
    states: Mapping[str, int]  # accepted / failed / unknown / skipped / pending / released
    reasons: Mapping[str, int]  # "<state>: <reason kind>" → count, for what did not go out
    sent_now: int  # accepted by this process
    elapsed: float
    stopped: str = ""  # why the job stopped early (paused, cancelled, account rejected), if it did
    provider_events: Mapping[str, int] = field(default_factory=dict)  # rate_limited, transient, ambiguous, ...
    dry_run: bool = False

    @property
    def complete(self) -> bool:
        return not self.states.get("pending") and not self.states.get("released")


def load_run(project: Project, run_id: str) -> tuple[RunInfo, list[Recipient]]:
    """The run and its sendable recipients (targets, variants, seeds; never the control group)."""
    con = warehouse.connect(project)
    try:
        row = con.execute(
            "select delivery_id, campaign_id, channel, content_hash from delivery_runs where run_id = ?", [run_id]
        ).fetchone()
        if row is None:
            raise SendRefused(f"no prepared run {run_id!r} in the published warehouse (see `herald runs list`)")
        channel = str(row[2])
        # Postal fields only where they are sent (direct mail): no other channel reads them.
        postal = "".join(f", p.{c}" for c in POSTAL_FIELDS) if channel == "direct_mail" else ""
        table = con.execute(
            f"select s.recipient_id, s.profile_id, s.address, s.recipient_group, s.variant, s.payload, s.topic,"
            f" p.time_zone{postal} from send_lists s left join profiles p on p.profile_id = s.profile_id"
            " where s.run_id = ? and s.is_sendable and s.recipient_group <> 'control' order by s.recipient_id",
            [run_id],
        ).to_arrow_table()
    finally:
        con.close()
    delivery_id, campaign_id, channel, content_hash = (str(v) for v in row)
    ref = Catalog.of(project).delivery(delivery_id)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    topic = next((t for t in columns["topic"] if t), ref.delivery.topic)
    info = RunInfo(
        run_id,
        delivery_id,
        campaign_id,
        channel,
        topic,
        ref.delivery.template,
        ref.delivery.schedule.time_zone,
        content_hash,
    )
    ids = [ledger.message_id(run_id, str(r), channel) for r in columns["recipient_id"]]
    recipients = Recipient.from_columns(ids, columns)
    return info, recipients


class SendJob:
    """One sender process's work on one run. ``run()`` returns the run's summary."""

    def __init__(
        self,
        project: Project,
        run_id: str,
        options: SendOptions | None = None,
        *,
        env: Mapping[str, str] | None = None,
        progress: Callable[[Progress], None] | None = None,
        provider_factory: Callable[[], Provider] | None = None,
    ) -> None:
        self.project = project
        self.run_id = run_id
        self.options = options or SendOptions()
        self.env = dict(os.environ if env is None else env)
        self.progress = progress
        self._factory = provider_factory
        self.gate = self.options.gate()
        self._sent_now = 0
        self._started = time.monotonic()
        self._stop = ""

    def _check(self) -> None:
        state = ledger.control(self.project, self.run_id)
        if state.state != "active":
            raise SendRefused(
                f"run {self.run_id} is {state.state} (by {state.by or '?'}"
                + (f": {state.reason}" if state.reason else "")
                + ")"
                + ("; `herald send resume` it first" if state.state == "paused" else "")
            )
        if self.options.ignore_approval or self.options.dry_run:
            return
        verdict = check_send(self.project, self.run_id)
        if not verdict.allowed:
            raise SendRefused(f"run {self.run_id} may not be sent: " + "; ".join(verdict.reasons))

    def _open_provider(self, delivery: Delivery) -> Provider:
        if self._factory is not None:
            return self._factory()
        return open_provider(
            delivery,
            project=self.project,
            run_id=self.run_id,
            campaign_id=self.info.campaign_id,
            env=self.env,
            sandbox=self.options.dry_run,
        )

    # ------------------------------------------------------------------ the run

    def run(self) -> SendSummary:
        with collector():
            return self._run()

    def _run(self) -> SendSummary:
        self._check()
        self.info, recipients = load_run(self.project, self.run_id)
        catalog = Catalog.of(self.project)
        delivery = catalog.delivery(self.info.delivery_id).delivery
        links = Links.from_env(self.env, required=not self.options.dry_run)
        self.composer = run_composer(Renderer(self.project.specs_dir / "templates"), self.info, links)
        providers = ProviderPool(lambda: self._open_provider(delivery))
        try:
            if self.options.dry_run:
                return self._dry_run(recipients, providers)
            suppressions = Suppressions(
                self.project,
                channel=self.info.channel,
                topic=self.info.topic,
                consent=catalog.typology(delivery.typology).require_consent,
            )
            once = ExactlyOnce(
                self.info.stamp,
                self.composer,
                providers.get,
                gate=self.gate,
                policy=self.options.retry,
                screen=suppressions,
            )
            settled_before = ledger.read_run(self.project, self.run_id).values()
            result = BatchSend(
                self.project,
                self.run_id,
                recipients,
                once,
                self.options,
                time_zone=self.info.time_zone,
                done_before=sum(1 for e in settled_before if e.state in ledger.SETTLED),
                progress=self.progress,
            ).run()
        finally:
            providers.close()
        self._sent_now, self._stop = result.sent_now, result.stopped
        summary = self.summary(recipients, result.latest)
        if self.info.channel == "direct_mail" and summary.complete:
            DirectMailProvider(self.project, self.run_id, self.info.delivery_id).finish(self.run_id)
        return summary

    # ------------------------------------------------------------------ dry run and summary

    def _dry_run(self, recipients: list[Recipient], providers: ProviderPool) -> SendSummary:
        """Render every message (the way the send would) and validate it; nothing is sent, nothing recorded."""
        states: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        ready: list[tuple[Recipient, OutgoingMessage]] = []
        for r in recipients:
            try:
                message = self.composer.compose_any(r)
                states["valid"] += 1
                ready.append((r, message))
            except TemplateError as exc:
                states["invalid"] += 1
                reasons[f"invalid: {str(exc)[:200]}"] += 1
        if self.options.sandbox and self.info.channel == "email":
            provider = providers.get()  # opened with sandbox=True: SendGrid validates and delivers nothing
            for unit in units(ready, provider.max_batch, one_body=True):
                for s in call(provider, [m for _, m in unit], self.gate, self.options.retry):
                    if s.state != "accepted":
                        states["valid"] -= 1
                        states["invalid"] += 1
                        reasons[f"invalid: {s.reason[:200]}"] += 1
        return SendSummary(
            self.run_id,
            len(recipients),
            dict(states),
            dict(reasons),
            0,
            time.monotonic() - self._started,
            dry_run=True,
        )

    def summary(
        self, recipients: Sequence[Recipient], known: Mapping[int, Mapping[str, ledger.Entry]] | None = None
    ) -> SendSummary:
        """The run's summary. ``known``: the latest entries of the shards this job held (shard → message →
        entry), as it kept them while writing; the other shards are read from the journal."""
        latest = latest_entries(self.project, self.run_id, known)
        states: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for r in recipients:
            e = latest.get(r.message_id)
            state = "pending" if e is None else e.state
            states[state] += 1
            if e is not None and state != "accepted" and e.reason:
                reasons[f"{state}: {_reason_kind(e.reason)}"] += 1
        return SendSummary(
            run_id=self.run_id,
            total=len(recipients),
            states=dict(states),
            reasons=dict(reasons),
            sent_now=self._sent_now,
            elapsed=time.monotonic() - self._started,
            stopped=self._stop,
            provider_events=dict(self.gate.events),
        )


def _reason_kind(reason: str) -> str:
    """A reason without its per-message details, for counting."""
    return reason.split(" for recipient ")[0].split(": ", 2)[0] if reason.startswith("template") else reason[:120]
