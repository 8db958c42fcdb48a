"""Where each delivery stands: draft, prepared, blocked, approved or outdated (sending, sent and cancelled once
the senders record them).

A status comes from the published warehouse (the delivery's latest run, the control rules it failed, its
approvals) and from the specs as they are now: a run is outdated once the content it was prepared with differs
from the content the delivery would be prepared with today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import duckdb

from herald import warehouse
from herald.campaigns.approvals import ApprovalRecord, approvals
from herald.campaigns.catalog import Catalog, DeliveryRef
from herald.campaigns.plans import Campaign, Delivery, Program
from herald.campaigns.prepare import content_hash
from herald.content.render import Renderer
from herald.errors import TemplateError
from herald.project import Project

Status = Literal["draft", "prepared", "blocked", "approved", "outdated", "sending", "sent", "cancelled"]
# What the senders will record about a delivery; nothing records it yet, so no status below comes from it.
SendState = Literal["sending", "sent", "cancelled"]
STATUSES: tuple[Status, ...] = ("draft", "prepared", "blocked", "approved", "outdated", "sending", "sent", "cancelled")
STATUS_MEANINGS: Mapping[Status, str] = {
    "draft": "Never prepared.",
    "prepared": "The latest run is prepared and not approved yet.",
    "blocked": "A control rule failed on the latest run: it cannot be approved or sent.",
    "approved": "The latest run is approved for the current content.",
    "outdated": "The template, sender, channel or topic changed since the latest run: prepare it again.",
    "sending": "The sender is sending the approved run.",
    "sent": "The approved run was sent.",
    "cancelled": "The send was cancelled.",
}


@dataclass(frozen=True, slots=True)
class LatestRun:
    """What the warehouse says about a delivery's latest run."""

    run_id: str
    content_hash: str
    plan_version: str
    prepared_at: dt.datetime
    audience_size: int
    send_count: int
    control_count: int
    excluded_count: int
    runs: int  # runs of the delivery so far
    failed_controls: tuple[tuple[str, str], ...]  # (rule, message)
    approvals: tuple[ApprovalRecord, ...]


def delivery_status(latest: LatestRun | None, current_hash: str | None, send_state: SendState | None = None) -> Status:
    """Where a delivery stands. ``current_hash`` is the content hash of its specs now (None: the template does
    not load, so no run can match it); ``send_state`` is what its sender recorded, which wins once there is one."""
    if send_state is not None:
        return send_state
    if latest is None:
        return "draft"
    if current_hash != latest.content_hash:
        return "outdated"
    if latest.failed_controls:
        return "blocked"
    # An approval records the content hash it saw: only one for the current content counts.
    if any(a.content_hash == current_hash for a in latest.approvals):
        return "approved"
    return "prepared"


# The latest run of each delivery, its columns named and typed as LatestRun's fields.
_LATEST_RUNS = """
select delivery_id, run_id, content_hash, coalesce(plan_version, '') as plan_version, prepared_at,
    audience_size::bigint as audience_size, send_count::bigint as send_count,
    control_count::bigint as control_count, excluded_count::bigint as excluded_count,
    count(*) over (partition by delivery_id) as runs
from delivery_runs
qualify row_number() over (partition by delivery_id order by run_id desc) = 1
"""


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.execute(sql).to_arrow_table().to_pylist()
    return rows


def latest_runs(con: duckdb.DuckDBPyConnection) -> dict[str, LatestRun]:
    """Delivery id → its latest run in the published warehouse ``con`` (deliveries never prepared are absent)."""
    if "delivery_runs" not in warehouse.mart_tables(con):
        return {}
    failed: dict[str, list[tuple[str, str]]] = {}
    try:
        for r in _records(
            con, "select run_id, rule, message from herald_meta.delivery_run_controls where not passed order by rowid"
        ):
            failed.setdefault(r["run_id"], []).append((r["rule"], r["message"]))
    except duckdb.CatalogException:
        pass  # no run recorded controls yet
    out: dict[str, LatestRun] = {}
    for r in _records(con, _LATEST_RUNS):
        delivery_id, run_id = r.pop("delivery_id"), r["run_id"]
        found = tuple(failed.get(run_id, ()))
        out[delivery_id] = LatestRun(**r, failed_controls=found, approvals=tuple(approvals(con, run_id)))
    return out


def current_hash(project: Project, ref: DeliveryRef) -> str | None:
    """The content hash the delivery would be prepared with now; None when its template does not load."""
    try:
        template = Renderer(Catalog.of(project).templates_dir).load(ref.delivery.template)
    except TemplateError:
        return None
    return content_hash(template, ref.delivery)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery of the plans with its status and latest run."""

    program: Program
    campaign: Campaign
    delivery: Delivery
    status: Status
    latest: LatestRun | None


def delivery_rows(project: Project, refs: Iterable[DeliveryRef], runs: Mapping[str, LatestRun]) -> list[DeliveryRow]:
    """Each delivery of ``refs`` with its status, given the latest ``runs`` the published warehouse has."""
    rows = []
    for ref in refs:
        latest = runs.get(ref.delivery.id)
        status = delivery_status(latest, current_hash(project, ref))
        rows.append(DeliveryRow(ref.program, ref.campaign, ref.delivery, status, latest))
    return rows
