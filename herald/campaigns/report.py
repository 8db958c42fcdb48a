"""The preparation report of a delivery run: size, exclusion waterfall, groups, controls, and the diff against
the previous run of the same delivery (who was added or removed, and why). Reads the published warehouse."""

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
    """One profile whose place differs between two runs: ``before`` / ``after`` are a group or an exclusion."""

    profile_id: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class RunReport:
    run: RunSummary
    waterfall: tuple[tuple[str, str, int], ...]  # (rule, reason, members) in rule order
    groups: tuple[tuple[str, int], ...]  # (group or group:variant, rows)
    controls: tuple[tuple[str, bool, str], ...]
    previous_run_id: str | None
    changes: tuple[Change, ...]
    changes_total: int

    @property
    def blocked(self) -> bool:
        return any(not passed for _, passed, _ in self.controls)


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
            changes = [Change(r["profile_id"], r["before"], r["after"]) for r in rows[:max_changes]]
    finally:
        con.close()
    return RunReport(run, tuple(waterfall), tuple(groups), controls, previous, tuple(changes), total)


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
