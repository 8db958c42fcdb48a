"""Approvals of prepared runs, and the check every real send makes before it starts.

An approval records who approved which run, when, and the content hash they saw; it is appended to
``herald_meta.delivery_run_approvals`` in the warehouse and published. A send is refused when the delivery
requires approval and the run has none, when the content changed after approval (a template, the sender or
the channel: the content hash differs), or when a control rule blocked the run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from herald import clock, warehouse
from herald.build import record_and_publish
from herald.campaigns.catalog import Catalog
from herald.campaigns.prepare import content_hash
from herald.content.render import Renderer
from herald.errors import CampaignError
from herald.project import Project

APPROVALS_TABLE = "herald_meta.delivery_run_approvals"


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    run_id: str
    approver: str
    content_hash: str
    approved_at: dt.datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class SendCheck:
    """Whether run ``run_id`` may be sent now, and if not, why (one sentence per reason)."""

    run_id: str
    reasons: tuple[str, ...]
    approval: ApprovalRecord | None

    @property
    def allowed(self) -> bool:
        return not self.reasons


def _run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, object]:
    rows = con.execute("select * from delivery_runs where run_id = ?", [run_id]).to_arrow_table().to_pylist()
    if not rows:
        raise CampaignError(f"no prepared run {run_id!r} in the published warehouse (see `herald runs list`)")
    return dict(rows[0])


def approvals(con: duckdb.DuckDBPyConnection, run_id: str) -> list[ApprovalRecord]:
    try:
        rows = con.execute(
            f"select run_id, approver, content_hash, approved_at, note from {APPROVALS_TABLE}"
            " where run_id = ? order by approved_at",
            [run_id],
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [ApprovalRecord(str(r[0]), str(r[1]), str(r[2]), r[3], str(r[4] or "")) for r in rows]


def blocked_controls(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """One sentence per control rule that failed for ``run_id`` (empty when none did)."""
    try:
        rows = con.execute(
            "select rule, message from herald_meta.delivery_run_controls where run_id = ? and not passed", [run_id]
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [f"control rule {r[0]} failed: {r[1]}" for r in rows]


def current_content_hash(project: Project, delivery_id: str) -> str:
    catalog = Catalog.of(project)
    ref = catalog.delivery(delivery_id)
    return content_hash(Renderer(catalog.templates_dir).load(ref.delivery.template), ref.delivery)


def approve(project: Project, run_id: str, approver: str, note: str = "") -> ApprovalRecord:
    """Record ``approver``'s approval of the run's target and content, and publish it. Eager.

    Refused when the approver is not one the delivery names, a control rule blocked the run, or the content
    changed since the run was prepared."""
    con = warehouse.connect(project)
    try:
        run = _run(con, run_id)
        blocked = blocked_controls(con, run_id)
    finally:
        con.close()
    delivery_id = str(run["delivery_id"])
    ref = Catalog.of(project).delivery(delivery_id)
    allowed = ref.delivery.approval.approvers
    if allowed and approver not in allowed:
        raise CampaignError(f"{approver!r} may not approve delivery {delivery_id}; its approvers: {', '.join(allowed)}")
    if blocked:
        raise CampaignError(f"run {run_id} cannot be approved: " + "; ".join(blocked))
    now_hash = current_content_hash(project, delivery_id)
    if now_hash != run["content_hash"]:
        raise CampaignError(
            f"the content of delivery {delivery_id} changed since run {run_id} was prepared "
            f"({run['content_hash']} → {now_hash}): prepare a new run and approve that one"
        )
    record = ApprovalRecord(run_id, approver, now_hash, clock.now().replace(tzinfo=None), note)

    def write(build: duckdb.DuckDBPyConnection, build_id: str) -> None:
        build.execute(
            f"insert into {APPROVALS_TABLE} values (?, ?, ?, ?, ?)",
            [record.run_id, record.approver, record.content_hash, record.approved_at, record.note],
        )

    record_and_publish(project, write)
    return record


def check_send(project: Project, run_id: str) -> SendCheck:
    """May run ``run_id`` be sent now? The sender calls this before its first message."""
    con = warehouse.connect(project)
    try:
        run = _run(con, run_id)
        blocked = blocked_controls(con, run_id)
        records = approvals(con, run_id)
        latest = con.execute(
            "select max(run_id) from delivery_runs where delivery_id = ?", [run["delivery_id"]]
        ).fetchone()
    finally:
        con.close()
    delivery_id = str(run["delivery_id"])
    reasons = list(blocked)
    ref = Catalog.of(project).delivery(delivery_id)
    now_hash = current_content_hash(project, delivery_id)
    if now_hash != run["content_hash"]:
        reasons.append(f"the content changed since the run was prepared ({run['content_hash']} → {now_hash})")
    approval = next((a for a in reversed(records) if a.content_hash == now_hash), None)
    if ref.delivery.approval.required and approval is None:
        who = ", ".join(ref.delivery.approval.approvers)
        reasons.append(f"delivery {delivery_id} requires approval by {who}; run {run_id} has none for this content")
    if latest is not None and latest[0] != run_id:
        reasons.append(f"run {run_id} is not the latest run of {delivery_id} ({latest[0]} is)")
    return SendCheck(run_id, tuple(reasons), approval)
