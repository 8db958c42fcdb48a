"""Circuit breakers: a delivery does not send when a source is stale or its audience jumped, unless overridden.

* **Source freshness** — the newest landed batch of each named raw table (its ``_loaded_at``, the column dbt's
  source freshness reads) must be younger than ``max_source_age_hours`` at the run's clock.
* **Audience jump** — the prepared run's audience may differ from the delivery's previous run by at most
  ``max_audience_change_percent`` (``delivery_runs.audience_size``).

An operator overrides with ``herald run --override DELIVERY --reason TEXT --by NAME``: the override is kept in
``warehouse/automation/overrides.jsonl`` and used by the next run that trips a breaker of that delivery (once;
a run that is killed and resumed keeps using the override it took).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import asdict, dataclass

import duckdb

from herald import landing, warehouse
from herald.project import Project
from herald.raw_schema import RAW_TABLES
from orchestration.errors import AutomationError
from orchestration.journal import automation_dir, utc_now
from orchestration.spec import Breakers


@dataclass(frozen=True, slots=True)
class Trip:
    """One breaker that stops a delivery: which, and why in one sentence."""

    breaker: str  # source_freshness / audience_jump
    reason: str


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's recorded decision to send despite the breakers, once."""

    id: str
    delivery: str
    by: str
    reason: str
    at: str


def stale_sources(project: Project, breakers: Breakers, now: dt.datetime) -> list[Trip]:
    """One trip per named raw table whose newest batch is older than the limit at ``now``."""
    if breakers.max_source_age_hours is None:
        return []
    limit = dt.timedelta(hours=breakers.max_source_age_hours)
    unknown = sorted(set(breakers.sources) - {t.name for t in RAW_TABLES})
    trips = [Trip("source_freshness", f"no raw table {name!r} to check") for name in unknown]
    tables = [t for t in RAW_TABLES if not breakers.sources or t.name in breakers.sources]
    con = duckdb.connect()
    try:
        for table in tables:
            if not landing.batch_files(project, table):
                if breakers.sources:
                    trips.append(Trip("source_freshness", f"{table.name}: nothing has ever landed"))
                continue
            row = landing.scan(con, project, table).aggregate("max(_loaded_at)").fetchone()
            loaded = row[0] if row else None
            if loaded is None:
                continue
            loaded_utc = loaded.replace(tzinfo=dt.UTC) if loaded.tzinfo is None else loaded
            age = now - loaded_utc
            if age > limit:
                trips.append(
                    Trip(
                        "source_freshness",
                        f"{table.name} was last loaded {loaded_utc:%Y-%m-%d %H:%M} UTC, "
                        f"{age.total_seconds() / 3600:.1f} h before the run; the limit is "
                        f"{breakers.max_source_age_hours:g} h",
                    )
                )
    finally:
        con.close()
    return trips


def audience_jump(project: Project, breakers: Breakers, delivery: str, run_id: str) -> list[Trip]:
    """A trip when run ``run_id``'s audience differs from the delivery's previous run by more than the limit."""
    if breakers.max_audience_change_percent is None:
        return []
    con = warehouse.connect(project)
    try:
        rows = con.execute(
            "select run_id, audience_size from delivery_runs where delivery_id = ? and run_id <= ?"
            " order by run_id desc limit 2",
            [delivery, run_id],
        ).fetchall()
    finally:
        con.close()
    if len(rows) < 2 or rows[0][0] != run_id:
        return []  # a first run has nothing to compare with
    (_, now_size), (before_id, before_size) = rows
    change = abs(int(now_size) - int(before_size)) / max(int(before_size), 1) * 100
    if change <= breakers.max_audience_change_percent:
        return []
    return [
        Trip(
            "audience_jump",
            f"the audience is {int(now_size):,}, {change:.0f} % from {int(before_size):,} in the previous run "
            f"{before_id}; the limit is {breakers.max_audience_change_percent:g} %",
        )
    ]


# ------------------------------------------------------------------------------------------- overrides


def _append(project: Project, record: dict[str, str]) -> None:
    path = automation_dir(project) / "overrides.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def record_override(project: Project, delivery: str, *, by: str, reason: str) -> Override:
    """Record that ``by`` lets ``delivery`` send despite its breakers, because ``reason``. Eager."""
    if not by.strip() or not reason.strip():
        raise AutomationError("an override needs who (--by) and why (--reason)")
    o = Override(uuid.uuid4().hex[:12], delivery, by.strip(), reason.strip(), utc_now())
    _append(project, {"kind": "override", **asdict(o)})
    return o


def read_overrides(project: Project) -> tuple[list[Override], dict[str, str]]:
    """Every override, and for those used, the run that used it (``workflow/run key``)."""
    path = automation_dir(project) / "overrides.jsonl"
    overrides: list[Override] = []
    used: dict[str, str] = {}
    if path.exists():
        data = path.read_bytes()
        for raw in data[: data.rfind(b"\n") + 1].splitlines():
            d = json.loads(raw)
            if d["kind"] == "override":
                overrides.append(Override(d["id"], d["delivery"], d["by"], d["reason"], d["at"]))
            else:
                used[d["id"]] = d["run"]
    return overrides, used


def use_override(project: Project, delivery: str, run: str) -> Override | None:
    """The override ``run`` already took for ``delivery``, else the oldest unused one, now marked used (or None)."""
    overrides, used = read_overrides(project)
    mine = [o for o in overrides if o.delivery == delivery and used.get(o.id) == run]
    if mine:
        return mine[0]
    for o in overrides:
        if o.delivery == delivery and o.id not in used:
            _append(project, {"kind": "used", "id": o.id, "run": run, "at": utc_now()})
            return o
    return None
