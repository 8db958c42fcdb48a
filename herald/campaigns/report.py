"""The preparation report of a delivery run: size, exclusion waterfall, groups, controls, and the diff against
the previous run of the same delivery (who was added or removed, and why). Reads the published warehouse.

A profile of the previous run that is no longer in the audience never reaches the waterfall's rules, so the
report attributes its departure from what the warehouse records since that run (see ``DEPARTURE_ORDER``)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from herald import warehouse
from herald.campaigns.catalog import Catalog
from herald.campaigns.prepare import sample_context
from herald.content.render import RenderedMessage, Renderer
from herald.errors import CampaignError, TemplateError
from herald.project import Project

# The order rules are applied in: the waterfall shows them in this order.
RULE_ORDER = (
    "no_address",
    "no_consent",
    "denylisted",
    "quarantined",
    "excluded_audience",
    "custom_rule",
    "duplicate_address",
    "fatigue",
)

# Why a profile of the previous run is no longer in the audience, the first that applies in this order.
DEPARTURE_ORDER = (
    "merged",  # merged into another profile (same email): the survivor carries on
    "no_longer_a_profile",  # its contact is gone from the CRM
    "opted_out",  # opted out on the delivery's channel since the previous run
    "quarantined",  # its address was quarantined or denylisted since the previous run
    "left_audience",  # anything else the audience's conditions decide
)
# Sources whose evidence id is the message the profile acted on.
MESSAGE_EVIDENCE_SOURCES = frozenset(
    {"one_click_unsubscribe", "unsubscribe_page", "preference_center", "esp_unsubscribe", "sms_stop"}
)


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    delivery_id: str
    channel: str
    audience_name: str
    audience_size: int
    send_count: int
    control_count: int
    excluded_count: int
    seed_count: int
    digest: str
    content_hash: str
    prepared_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Change:
    """One profile whose place differs between two runs: ``before`` / ``after`` are a group or an exclusion.
    ``why`` says why a profile of the previous run is no longer in the audience (empty for other moves)."""

    profile_id: str
    before: str
    after: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class Departure:
    """Why one profile of the previous run is no longer in the audience: ``reason`` of ``DEPARTURE_ORDER``,
    ``detail`` (the consent source or the quarantine reason, else empty) and the sentence the report shows."""

    reason: str
    detail: str
    why: str


@dataclass(frozen=True, slots=True)
class RunReport:
    run: RunSummary
    waterfall: tuple[tuple[str, str, int], ...]  # (rule, reason, members) in rule order
    groups: tuple[tuple[str, int], ...]  # (group or group:variant, rows)
    controls: tuple[tuple[str, bool, str], ...]
    previous_run_id: str | None
    changes: tuple[Change, ...]
    changes_total: int
    # (reason, detail, profiles) of every profile that left the audience since the previous run, in
    # DEPARTURE_ORDER, largest first
    departures: tuple[tuple[str, str, int], ...] = ()

    @property
    def blocked(self) -> bool:
        return any(not passed for _, passed, _ in self.controls)


def format_report(report: RunReport) -> str:
    """The preparation report as text for the terminal."""
    r = report.run
    lines = [
        f"{r.delivery_id} · {r.channel} · audience {r.audience_name}: {r.audience_size:,} members",
        f"  to send {r.send_count:,} · control {r.control_count:,} · excluded {r.excluded_count:,}"
        f" · seeds {r.seed_count:,} · digest {r.digest}",
        "Exclusions (first rule that applied):",
    ]
    lines += [f"  {rule:<18} {n:>9,}  {reason}" for rule, reason, n in report.waterfall] or ["  none"]
    lines.append("Groups:")
    lines += [f"  {group:<18} {n:>9,}" for group, n in report.groups]
    lines.append("Control rules:")
    lines += [f"  {'ok  ' if ok else 'FAIL'} {rule:<20} {message}" for rule, ok, message in report.controls]
    if report.previous_run_id:
        lines.append(f"Changes since {report.previous_run_id}: {report.changes_total:,} profile(s)")
        lines += [
            f"  {c.profile_id}: {c.before} → {c.after}" + (f": {c.why}" if c.why else "") for c in report.changes[:20]
        ]
        if report.departures:
            lines.append("Left the audience since the previous run (why):")
            lines += [f"  {reason:<18} {n:>9,}  {detail}".rstrip() for reason, detail, n in report.departures]
    return "\n".join(lines)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return con.execute(sql, params).to_arrow_table().to_pylist()  # type: ignore[no-any-return]


def list_runs(project: Project, delivery_id: str | None = None) -> list[RunSummary]:
    con = warehouse.connect(project)
    try:
        if "delivery_runs" not in warehouse.mart_tables(con):
            return []
        rows = _rows(
            con,
            "select * from delivery_runs where ? is null or delivery_id = ? order by run_id desc",
            [delivery_id, delivery_id],
        )
    finally:
        con.close()
    return [_summary(r) for r in rows]


def _summary(r: dict[str, Any]) -> RunSummary:
    return RunSummary(
        run_id=r["run_id"],
        delivery_id=r["delivery_id"],
        channel=r["channel"],
        audience_name=r["audience_name"],
        audience_size=int(r["audience_size"]),
        send_count=int(r["send_count"]),
        control_count=int(r["control_count"]),
        excluded_count=int(r["excluded_count"]),
        seed_count=int(r["seed_count"]),
        digest=r["send_list_digest"],
        content_hash=r["content_hash"],
        prepared_at=r["prepared_at"],
    )


def run_report(project: Project, run_id: str, *, max_changes: int = 200) -> RunReport:
    """Everything the preparation report shows for ``run_id``."""
    con = warehouse.connect(project)
    try:
        found = _rows(con, "select * from delivery_runs where run_id = ?", [run_id])
        if not found:
            raise CampaignError(f"no prepared run {run_id!r} in the published warehouse (see `herald runs list`)")
        run = _summary(found[0])
        waterfall = sorted(
            (
                (r["exclusion_rule"], r["exclusion_reason"] or "", int(r["n"]))
                for r in _rows(
                    con,
                    "select exclusion_rule, exclusion_reason, count(*) as n from send_list_exclusions"
                    " where run_id = ? group by all",
                    [run_id],
                )
            ),
            key=lambda t: (RULE_ORDER.index(t[0]) if t[0] in RULE_ORDER else 99, -t[2], t[1]),
        )
        groups = [
            (r["g"], int(r["n"]))
            for r in _rows(
                con,
                "select recipient_group || coalesce(':' || variant, '') as g, count(*) as n from send_lists"
                " where run_id = ? group by all order by g",
                [run_id],
            )
        ]
        controls = run_controls(con, run_id)
        previous = _rows(
            con,
            "select max(run_id) as run_id from delivery_runs where delivery_id = ? and run_id < ?",
            [run.delivery_id, run_id],
        )[0]["run_id"]
        changes: list[Change] = []
        total = 0
        departures: dict[str, Departure] = {}
        if previous is not None:
            diff_sql = """
                with placed as (
                    select run_id, profile_id,
                        case when exclusion_rule is null then recipient_group || coalesce(':' || variant, '')
                             else 'excluded: ' || exclusion_rule || coalesce(' (' || exclusion_reason || ')', '')
                        end as place
                    from delivery_run_recipients
                    where run_id in (?, ?) and profile_id is not null
                ),
                before as (select profile_id, place from placed where run_id = ?),
                after as (select profile_id, place from placed where run_id = ?)
                select coalesce(after.profile_id, before.profile_id) as profile_id,
                    coalesce(before.place, 'not in the audience') as before,
                    coalesce(after.place, 'not in the audience') as after
                from before full outer join after using (profile_id)
                where before.place is distinct from after.place
                order by 1
            """
            rows = _rows(con, diff_sql, [previous, run_id, previous, run_id])
            total = len(rows)
            departures = departures_since(con, previous, run_id)
            changes = [
                Change(r["profile_id"], r["before"], r["after"], _why(departures.get(r["profile_id"])))
                for r in rows[:max_changes]
            ]
    finally:
        con.close()
    return RunReport(
        run, tuple(waterfall), tuple(groups), controls, previous, tuple(changes), total, _summarize(departures)
    )


def _why(departure: Departure | None) -> str:
    return "" if departure is None else departure.why


def _summarize(departures: dict[str, Departure]) -> tuple[tuple[str, str, int], ...]:
    counts: dict[tuple[str, str], int] = {}
    for d in departures.values():
        counts[(d.reason, d.detail)] = counts.get((d.reason, d.detail), 0) + 1
    return tuple(
        (reason, detail, n)
        for (reason, detail), n in sorted(
            counts.items(), key=lambda kv: (DEPARTURE_ORDER.index(kv[0][0]), -kv[1], kv[0][1])
        )
    )


# Per profile of the previous run that is not in this run: what the warehouse recorded since the previous run.
# An opt-out counts when it began after the previous run's reference time, or when it replaced the very opt-in
# the previous run relied on (an event that landed late, dated before that run); those of the delivery's topic
# or of every topic come first. A quarantine counts when it began after the previous run or that run did not
# already exclude the address for it.
_DEPARTURES_SQL = """
    with previous as (
        select profile_id, channel, topic, address, consent_id, exclusion_rule, prepared_at
        from delivery_run_recipients
        where run_id = ? and profile_id is not null
    ),
    departed as (
        select * from previous
        where profile_id not in (
            select profile_id from delivery_run_recipients where run_id = ? and profile_id is not null
        )
    ),
    merges as (
        select departed.profile_id, min(identities.profile_id) as merged_into
        from departed
        inner join profile_identities as identities on identities.external_key = departed.profile_id
        where identities.profile_id <> departed.profile_id
        group by departed.profile_id
    ),
    opt_outs as (
        select
            departed.profile_id,
            consents.topic,
            consents.source,
            consents.evidence_id,
            consents.status_since,
            row_number() over (
                partition by departed.profile_id
                order by
                    case when departed.topic is null or consents.topic in (departed.topic, 'all') then 0 else 1 end,
                    consents.status_since desc,
                    consents.topic
            ) as rank
        from departed
        inner join profile_consents as consents
            on consents.profile_id = departed.profile_id and consents.channel = departed.channel
        where consents.consent_status = 'opted_out'
            and (consents.status_since > departed.prepared_at or consents.profile_consent_id = departed.consent_id)
    ),
    quarantines as (
        select
            departed.profile_id,
            quarantines.quarantine_status,
            quarantines.quarantine_reason,
            quarantines.quarantined_since,
            row_number() over (
                partition by departed.profile_id order by quarantines.quarantined_since desc nulls last
            ) as rank
        from departed
        inner join address_quarantines as quarantines
            on quarantines.channel = departed.channel and quarantines.address = departed.address
        where quarantines.is_quarantined
            and (
                quarantines.quarantined_since > departed.prepared_at
                or coalesce(departed.exclusion_rule, '') not in ('quarantined', 'denylisted')
            )
    )
    select
        departed.profile_id,
        departed.channel,
        profiles.profile_id is not null as is_profile,
        merges.merged_into,
        opt_outs.topic as opt_out_topic,
        opt_outs.source as opt_out_source,
        opt_outs.evidence_id as opt_out_evidence,
        opt_outs.status_since as opted_out_at,
        quarantines.quarantine_status,
        quarantines.quarantine_reason,
        quarantines.quarantined_since
    from departed
    left join profiles on profiles.profile_id = departed.profile_id
    left join merges on merges.profile_id = departed.profile_id
    left join opt_outs on opt_outs.profile_id = departed.profile_id and opt_outs.rank = 1
    left join quarantines on quarantines.profile_id = departed.profile_id and quarantines.rank = 1
"""


def departures_since(con: duckdb.DuckDBPyConnection, previous_run_id: str, run_id: str) -> dict[str, Departure]:
    """Why each profile of ``previous_run_id`` that ``run_id`` does not have left the audience, by profile id."""
    return {r["profile_id"]: _departure(r) for r in _rows(con, _DEPARTURES_SQL, [previous_run_id, run_id])}


def _departure(r: dict[str, Any]) -> Departure:
    if r["merged_into"] is not None and not r["is_profile"]:
        return Departure("merged", "", f"merged into profile {r['merged_into']}")
    if not r["is_profile"]:
        return Departure("no_longer_a_profile", "", "no longer a profile (its contact left the CRM)")
    if r["opted_out_at"] is not None:
        topic = r["opt_out_topic"]
        what = f"every {r['channel']} topic" if topic == "all" else f"{r['channel']} topic {topic}"
        source = r["opt_out_source"] or "unknown source"
        evidence = r["opt_out_evidence"]
        if evidence is None:
            proof = ""
        elif source in MESSAGE_EVIDENCE_SOURCES:
            proof = f", evidence: message {evidence}"
        else:
            proof = f", evidence: {evidence}"
        return Departure("opted_out", source, f"opted out of {what} on {_day(r['opted_out_at'])} ({source}{proof})")
    if r["quarantine_status"] is not None:
        status = r["quarantine_status"]
        reason = r["quarantine_reason"] or ""
        since = "" if r["quarantined_since"] is None else f" on {_day(r['quarantined_since'])}"
        return Departure(
            "quarantined", reason or status, f"address {status}{since}" + (f" ({reason})" if reason else "")
        )
    return Departure("left_audience", "", "left the audience")


def _day(value: dt.datetime | dt.date) -> str:
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def run_controls(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[tuple[str, bool, str], ...]:
    """(rule, passed, message) of every control rule checked for ``run_id``, in the order they ran."""
    try:
        rows = _rows(
            con,
            "select rule, passed, message from herald_meta.delivery_run_controls where run_id = ? order by rowid",
            [run_id],
        )
    except duckdb.Error:
        return ()
    return tuple((r["rule"], bool(r["passed"]), r["message"]) for r in rows)


def sample_messages(
    project: Project, run_id: str, count: int = 10
) -> list[tuple[str, RenderedMessage | None, str | None]]:
    """Up to ``count`` recipients of the run rendered with their real data: (recipient, message, error)."""
    con = warehouse.connect(project)
    try:
        rows = _rows(
            con,
            "select recipient_id, delivery_id, campaign_id, variant, payload from send_lists"
            " where run_id = ? and is_sendable order by recipient_group = 'seed', recipient_id limit ?",
            [run_id, count],
        )
    finally:
        con.close()
    if not rows:
        return []
    catalog = Catalog.of(project)
    ref = catalog.delivery(rows[0]["delivery_id"])
    renderer = Renderer(catalog.templates_dir)
    out: list[tuple[str, RenderedMessage | None, str | None]] = []
    for r in rows:
        try:
            message = renderer.render(
                ref.delivery.template,
                json.loads(r["payload"]),
                sample_context(ref.delivery, r["campaign_id"], r["variant"]),
                label=r["recipient_id"],
            )
            out.append((r["recipient_id"], message, None))
        except TemplateError as exc:
            out.append((r["recipient_id"], None, str(exc)))
    return out
