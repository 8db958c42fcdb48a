"""Benchmark: the build after a day's data has landed, incremental against a full refresh, side by side.

    .venv/bin/python bench/bench_incremental_build.py --workdir /tmp/bench --events 2500000 --merges 2000

Copies the landing zone of ``--workdir`` (from ``bench_build.py``) into a scratch warehouse beside it, builds it
once in full, then lands a day: ``--events`` app events taken from a landed file, half of them new versions of
events already built (another event type, a minute later) and half new events, and ``--merges`` contacts that
take another contact's email (so their events move to the profile they merge into). Then times, on the same
data, ``dbt build`` (the incremental models read only what landed since) and ``dbt build --full-refresh``
(every model from scratch), checks that ``profile_events`` holds the same rows after both, and prints both
times and their ratio. No assertions on time: the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_build import dbt_build  # noqa: E402

from herald import landing  # noqa: E402
from herald.project import Project  # noqa: E402
from herald.raw_schema import APP_EVENTS, CRM_CONTACTS  # noqa: E402


def land_a_day(project: Project, events: int, merges: int) -> None:
    """New versions of built events, new events and contacts merging into others, as three landed batches."""
    con = duckdb.connect()
    try:
        first_file = landing.batch_files(project, APP_EVENTS)[-1]
        day: pa.Table = con.execute(
            f"""
            select
                case when row_number() over () % 2 = 0 then event_id else 'day-' || event_id end as event_id,
                external_key,
                case when event_type = 'page_view' then 'product_view' else 'page_view' end as event_type,
                properties,
                occurred_at + interval 1 minute as occurred_at
            from read_parquet('{first_file}')
            limit {int(events)}
            """
        ).to_arrow_table()
        contacts = f"read_parquet('{landing.table_dir(project, CRM_CONTACTS)}/*.parquet')"
        columns = ", ".join(c.name for c in CRM_CONTACTS.columns if c.name != "email")
        merging: pa.Table = con.execute(
            f"""
            with candidates as (
                select *, row_number() over (order by external_key) as n
                from {contacts}
                where email like '%@%.%'
                order by external_key
                limit {2 * int(merges)}
            )
            select {", ".join("later." + c for c in columns.split(", "))}, earlier.email
            from candidates as later
            join candidates as earlier on earlier.n = later.n - {int(merges)}
            """
        ).to_arrow_table()
    finally:
        con.close()
    landing.land_batch(project, APP_EVENTS, day, source_file="bench-day-events.parquet")
    landing.land_batch(project, CRM_CONTACTS, merging, source_file="bench-day-contacts.parquet")


def slowest(target: Path, n: int = 5) -> str:
    """The build's ``n`` longest nodes, from dbt's run_results.json."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    top = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:n]
    return ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f} s" for r in top)


def fingerprint(project: Project) -> tuple[int, str]:
    with duckdb.connect(str(project.build_path), read_only=True) as con:
        row = con.execute(
            "select count(*), cast(sum(hash(event_id, profile_id, external_key, event_type, url, product_id, "
            "category, search_query, platform, app_version, occurred_at, batch_id)) as varchar) from profile_events"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="holds warehouse/landing (bench_build.py)")
    parser.add_argument("--events", type=int, default=2_500_000, help="app events in the day's batch")
    parser.add_argument("--merges", type=int, default=2_000, help="contacts merging into another in the day")
    args = parser.parse_args()
    source = Project(root=ROOT, warehouse_dir=args.workdir / "warehouse")
    if not landing.batch_files(source, APP_EVENTS):
        parser.error(f"no landed app events under {source.landing_dir}: run bench_build.py or herald generate")
    scratch = args.workdir / "incremental"
    shutil.rmtree(scratch, ignore_errors=True)
    project = Project(root=ROOT, warehouse_dir=scratch / "warehouse")
    shutil.copytree(source.landing_dir, project.landing_dir)
    project.ensure_dirs()
    try:
        first, target = dbt_build(project)
        print(f"first full build: {first:.1f} s; longest: {slowest(target)}", flush=True)
        land_a_day(project, args.events, args.merges)
        incremental, target = dbt_build(project)
        print(f"incremental build after the day: {incremental:.1f} s; longest: {slowest(target)}", flush=True)
        after_incremental = fingerprint(project)
        full, target = dbt_build(project, "--full-refresh")
        print(f"full refresh of the same data: {full:.1f} s; longest: {slowest(target)}", flush=True)
        after_full = fingerprint(project)
        print()
        print(f"machine: {platform.machine()} {os.cpu_count()} cores, duckdb {duckdb.__version__}")
        print(f"day landed: {args.events:,} app events (half new versions), {args.merges:,} contacts merging")
        print(f"profile_events after both: {after_full[0]:,} rows, same rows: {after_incremental == after_full}")
        print(f"{'dbt build, incremental':<34}{incremental:>10.1f} s")
        print(f"{'dbt build --full-refresh':<34}{full:>10.1f} s")
        print(f"incremental: {incremental / full:.2f}x the full refresh")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
