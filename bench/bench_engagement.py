"""Engagement build: incremental after +1 % provider events, beside a full rebuild of the same models.

    .venv/bin/python bench/bench_engagement.py --profiles 500000 --workdir /tmp/bench-engagement
    .venv/bin/python bench/bench_engagement.py --profiles 1000000 --copies 7 --quick   # ~50M provider events

1. Generate ``--profiles`` people (few app events: the engagement models do not read them). With ``--copies K``
   the message history and its provider events are landed K times in all, each copy under new message and event
   ids (as if every campaign had gone out K times), to reach a provider-event volume the generator only gives
   with millions more profiles. Then build the warehouse once (not timed): the whole of it, or with ``--quick``
   only the engagement models and what they read (``dbt run``, no tests).
2. Unless ``--quick``: a full rebuild of the engagement models (``dbt run --full-refresh`` on the messaging and
   engagement folders) before the new events.
3. Land 1 % more provider events (new events of existing messages, as a webhook batch would bring) and run the
   same models incrementally: the deduplicated events read only the new batch, the message fact recomputes only
   the messages it touches.
4. Full rebuild over the same data: the baseline, showing what the incremental run saved and that both give the
   same message fact.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from herald import landing
from herald.build import build, run_dbt
from herald.generate import generate
from herald.project import Project
from herald.raw_schema import CHANNEL_EVENTS, ESP_EVENTS, MESSAGE_HISTORY, RawTable

ROOT = Path(__file__).resolve().parent.parent
ENGAGEMENT = (
    "path:dbt_project/models/intermediate/messaging",
    "path:dbt_project/models/marts/messaging",
    "path:dbt_project/models/marts/engagement",
)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(label: str, fn: object) -> tuple[float, float]:
    wall, cpu = time.monotonic(), _cpu()
    fn()  # type: ignore[operator]
    wall, cpu = time.monotonic() - wall, _cpu() - cpu
    print(f"  {label:<44} {wall:8.1f} s wall {cpu:8.1f} s CPU", flush=True)
    return wall, cpu


def _engagement_run(project: Project, *, full_refresh: bool) -> None:
    args = ["run", "--select", *ENGAGEMENT]
    if full_refresh:
        args.append("--full-refresh")
    run_dbt(project, args, batch_cutoff=landing.latest_batch_id(project), quiet=True)


def _land_one_percent(project: Project) -> int:
    """New events (new ids, a day later) for 1 % of the provider events already landed, as one batch."""
    con = duckdb.connect()
    try:
        pattern = str(landing.table_dir(project, ESP_EVENTS) / "*.parquet")
        names = ", ".join(c.name for c in ESP_EVENTS.columns if c.name not in ("sg_event_id", "occurred_at"))
        table = con.execute(
            f"select 'more-' || sg_event_id as sg_event_id, {names}, occurred_at + interval 1 day as occurred_at "
            f"from read_parquet('{pattern}') where hash(sg_event_id) % 100 = 0"
        ).to_arrow_table()
    finally:
        con.close()
    landing.land_batch(project, ESP_EVENTS, table, source_file="bench-webhook.json")
    return int(table.num_rows)


def _land_copies(project: Project, copies: int) -> int:
    """Land the message history and its provider events ``copies - 1`` more times, each under new ids.

    Every id that ties an event to its message gets the copy's suffix, so each copy is a distinct set of
    messages with the same shape and outcomes. Returns the provider events landed by the copies.
    """
    tables = {
        MESSAGE_HISTORY: ("message_id",),
        ESP_EVENTS: ("sg_event_id", "sg_message_id", "message_id"),
        CHANNEL_EVENTS: ("event_id", "provider_message_id", "message_id"),
    }
    originals = {table: [str(p) for p in landing.batch_files(project, table)] for table in tables}
    added = 0
    con = duckdb.connect()
    try:
        for copy in range(2, copies + 1):
            for table, ids in tables.items():
                names = ", ".join(
                    f"{c.name} || '~{copy}' as {c.name}" if c.name in ids else c.name for c in table.columns
                )
                data = con.execute(f"select {names} from read_parquet({originals[table]!r})").to_arrow_table()
                landing.land_batch(project, table, data, source_file=f"bench-copy-{copy}.parquet")
                if table is not MESSAGE_HISTORY:
                    added += data.num_rows
    finally:
        con.close()
    return added


def _generate(project: Project, profiles: int, events_per_profile: int, copies: int) -> int:
    """Generate the raw data (and the copies of the message history); the provider events landed."""
    report = generate(project.landing_dir, profiles=profiles, events_per_profile=events_per_profile)
    rows = report.rows
    events = rows.get("esp_events", 0) + rows.get("channel_events", 0)
    print(
        f"  generated in {report.seconds:.0f} s: {rows['esp_events']:,} email events, "
        f"{rows['channel_events']:,} SMS/push callbacks, {rows['message_history']:,} messages"
    )
    if copies > 1:
        started = time.monotonic()
        events += _land_copies(project, copies)
        print(
            f"  {copies} copies of the message history landed in {time.monotonic() - started:.0f} s: "
            f"{events:,} provider events, {rows['message_history'] * copies:,} messages",
            flush=True,
        )
    return events


def _landed_rows(project: Project, table: RawTable) -> int:
    return int(pq.ParquetDataset(str(landing.table_dir(project, table))).read(columns=[table.key]).num_rows)


def _first_build(project: Project, *, quick: bool) -> None:
    if not quick:
        build(project, quiet=True)
        return
    cutoff = landing.latest_batch_id(project)
    run_dbt(project, ["seed"], batch_cutoff=cutoff, quiet=True)
    parents_and_models = [f"+{selector}" for selector in ENGAGEMENT]
    run_dbt(project, ["run", "--full-refresh", "--select", *parents_and_models], batch_cutoff=cutoff, quiet=True)


def _fact_digest(project: Project) -> tuple[object, ...]:
    con = duckdb.connect(str(project.build_path), read_only=True)
    try:
        row = con.execute(
            "select count(*), sum(open_count), sum(click_count), sum(case when is_opened then 1 else 0 end), "
            "sum(hash(message_id, open_count, click_count, is_delivered, is_bounced, last_event_at)) "
            "from message_outcomes"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return tuple(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=500_000)
    parser.add_argument("--events-per-profile", type=int, default=5)
    parser.add_argument("--copies", type=int, default=1, help="land the message history this many times in all")
    parser.add_argument("--quick", action="store_true", help="first build only what the engagement models read")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-engagement"))
    parser.add_argument(
        "--reuse", action="store_true", help="keep the landed data of an earlier run in --workdir (its sizes)"
    )
    args = parser.parse_args()
    project = Project(root=ROOT, warehouse_dir=args.workdir / "warehouse")
    if args.reuse:
        shutil.rmtree(project.build_dir, ignore_errors=True)
        shutil.rmtree(args.workdir / "dbt-target", ignore_errors=True)
    else:
        shutil.rmtree(args.workdir, ignore_errors=True)
    project.ensure_dirs()
    os.environ.setdefault("DBT_TARGET_PATH", str(args.workdir / "dbt-target"))
    print(f"Engagement build, {args.profiles:,} profiles, {os.cpu_count()} CPUs", flush=True)
    if args.reuse:
        events = sum(_landed_rows(project, table) for table in (ESP_EVENTS, CHANNEL_EVENTS))
        print(f"  reusing {events:,} landed provider events in {args.workdir}", flush=True)
    else:
        events = _generate(project, args.profiles, args.events_per_profile, args.copies)
    first = "engagement models and their parents, first build" if args.quick else "whole warehouse, first build"
    _timed(f"{first} (not compared)", lambda: _first_build(project, quick=args.quick))
    full_wall = full_cpu = float("nan")
    if not args.quick:
        full_wall, full_cpu = _timed(
            "engagement models, full rebuild", lambda: _engagement_run(project, full_refresh=True)
        )
    added = _land_one_percent(project)
    print(f"  landed {added:,} new provider events (+{added / max(events, 1):.1%})", flush=True)
    inc_wall, inc_cpu = _timed("engagement models, incremental", lambda: _engagement_run(project, full_refresh=False))
    incremental = _fact_digest(project)
    again_wall, again_cpu = _timed(
        "engagement models, full rebuild (same data)", lambda: _engagement_run(project, full_refresh=True)
    )
    assert _fact_digest(project) == incremental, "the incremental message fact differs from a full rebuild"
    landed = sum(_landed_rows(project, table) for table in (ESP_EVENTS, CHANNEL_EVENTS))
    print()
    print(f"| {landed:,} provider events landed (email and SMS/push) | wall | CPU |")
    print("|---|---|---|")
    print(f"| full rebuild of the engagement models | {again_wall:.1f} s | {again_cpu:.1f} s |")
    print(f"| incremental after +1 % events | {inc_wall:.1f} s | {inc_cpu:.1f} s |")
    print(f"| ratio | {again_wall / inc_wall:.1f}× | {again_cpu / max(inc_cpu, 0.01):.1f}× |")
    if not args.quick:
        print(f"(first full rebuild, before the extra events: {full_wall:.1f} s wall, {full_cpu:.1f} s CPU)")


if __name__ == "__main__":
    main()
