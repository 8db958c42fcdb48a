"""Benchmark: the least any full build of this warehouse can take on this machine, beside the ≤ 120 s goal.

    .venv/bin/python bench/bench_build_floor.py --workdir /tmp/bench --build-seconds 355.7

A full build has two parts whose cost no model design removes:

- **the node graph itself**: every model, data test and unit test that dbt runs, whatever the data size.
  Measured as the same `dbt build` on the demo warehouse (a few thousand profiles), in a temporary directory.
- **the data it must touch once**: every landed raw table copied into a table of the build file's format with
  no transformation at all, one count per source key over the landed rows (deduplication must find the keys
  landed twice) and the same count over the copy (the key's unique test). For the 50M-event fact the cheaper
  of two writers counts (a DuckDB table or a Parquet file, zstd), plus the two things the fact is for: its JSON
  properties parsed to typed columns, and each event joined to its contact's key (the identity map).

Prints each step's wall and CPU time, then two floors: the steps one after the other, and their CPU time
spread perfectly over every core (no schedule can beat that one). Each is printed as a ratio to the goal and,
with ``--build-seconds``, the measured full build as a ratio to it. Reads the workdir's landing zone (from
``bench_build.py`` or ``herald generate``); writes only to temporary directories. No assertions: the figures
go to BENCHMARKS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_build import dbt_build  # noqa: E402

from herald import demo, landing  # noqa: E402
from herald.build import BUILD_FILE_CONFIG  # noqa: E402
from herald.project import Project  # noqa: E402
from herald.raw_schema import APP_EVENTS, CRM_CONTACTS, RAW_TABLES  # noqa: E402

GOAL_SECONDS = 120.0
# The keys of the events' JSON properties that profile_events types as columns.
EVENT_PROPERTIES = ("url", "product_id", "category", "search_query", "platform", "app_version")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    wall: float
    cpu: float


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measured(name: str, run: Callable[[], object], who: int = resource.RUSAGE_SELF) -> Step:
    cpu, started = _cpu(who), time.perf_counter()
    run()
    step = Step(name, time.perf_counter() - started, _cpu(who) - cpu)
    print(f"  {step.name:58s} {step.wall:8.1f} s wall {step.cpu:8.1f} s CPU", flush=True)
    return step


def graph_cost() -> Step:
    """The same dbt build over the demo warehouse: the node graph at (almost) no data."""
    with tempfile.TemporaryDirectory(prefix="herald-floor-demo-") as tmp:
        project = Project(root=ROOT, warehouse_dir=Path(tmp) / "warehouse")
        project.ensure_dirs()
        landing.ensure_initialized(project)
        demo.load_demo(project)
        return measured(
            "dbt build of the demo warehouse (the node graph)", lambda: dbt_build(project), resource.RUSAGE_CHILDREN
        )


def parse_properties(landed: str) -> str:
    shape = "{" + ",".join(f'"{key}":"VARCHAR"' for key in EVENT_PROPERTIES) + "}"
    return f"select count(url) from (select unnest(json_transform(properties, '{shape}')) from {landed})"


def join_contacts(source: Project) -> str:
    contacts = f"read_parquet('{landing.table_dir(source, CRM_CONTACTS)}/*.parquet')"
    return (
        "select count(contacts.external_key) from app_events left join "
        f"(select distinct external_key from {contacts}) as contacts using (external_key)"
    )


def data_cost(source: Project, threads: int) -> list[Step]:
    """Copy every landed table once and count its keys twice; the big fact's cheaper writer only."""
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="herald-floor-data-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"), config=BUILD_FILE_CONFIG)
        con.execute(f"set threads = {threads}")

        def sql(name: str, statement: str) -> Step:
            return measured(name, lambda: con.execute(statement).fetchall())

        def keys_landed_twice(relation: str, key: str) -> str:
            return f"select count(*) from (select {key} from {relation} group by {key} having count(*) > 1)"

        try:
            for table in landing.tables_with_data(source):
                if table not in RAW_TABLES:
                    continue
                landed = f"read_parquet('{landing.table_dir(source, table)}/*.parquet')"
                rows = con.execute(f"select count(*) from {landed}").fetchone()
                label = f"{table.name} ({rows[0] if rows else 0:,} rows)"
                steps.append(sql(f"{label}: count per key, landed", keys_landed_twice(landed, table.key)))
                copied = sql(
                    f"{table.name}: copy into a table",
                    f"create table {table.name} as select * from {landed}; checkpoint",
                )
                if table == APP_EVENTS:
                    target = Path(tmp) / f"{table.name}.parquet"
                    as_parquet = sql(
                        f"{table.name}: copy into Parquet (zstd)",
                        f"copy (select * from {landed}) to '{target}' (format parquet, compression zstd)",
                    )
                    copied = min(copied, as_parquet, key=lambda step: step.wall)
                steps.append(copied)
                if table == APP_EVENTS:
                    # What the issue asks of the fact beyond a copy: typed properties and the profile of each event.
                    steps.append(sql(f"{table.name}: properties to typed columns (JSON)", parse_properties(landed)))
                    steps.append(sql(f"{table.name}: joined to the contacts' external keys", join_contacts(source)))
                steps.append(
                    sql(
                        f"{table.name}: count per key, copied (its unique test)",
                        keys_landed_twice(table.name, table.key),
                    )
                )
        finally:
            con.close()
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="holds warehouse/landing (bench_build.py)")
    parser.add_argument("--build-seconds", type=float, help="a measured full build at this scale, for its ratio")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    source = Project(root=ROOT, warehouse_dir=args.workdir / "warehouse")
    if not landing.batch_files(source, APP_EVENTS):
        parser.error(f"no landed app events under {source.landing_dir}: run bench_build.py or herald generate")

    print(f"machine: {platform.machine()} {os.cpu_count()} cores, duckdb {duckdb.__version__}")
    print("steps:")
    steps = [graph_cost(), *data_cost(source, args.threads)]
    one_by_one = sum(s.wall for s in steps)
    all_cores = sum(s.cpu for s in steps) / args.threads
    print(f"floor, the steps one after the other: {one_by_one:7.1f} s = {one_by_one / GOAL_SECONDS:.2f}x the goal")
    print(
        f"floor, their CPU on {args.threads} cores, perfectly spread: {all_cores:7.1f} s = "
        f"{all_cores / GOAL_SECONDS:.2f}x the goal"
    )
    graph, data = steps[0], steps[1:]
    data_one_by_one = sum(s.wall for s in data)
    data_all_cores = sum(s.cpu for s in data) / args.threads
    print(
        f"the data alone, no node graph: {data_one_by_one:7.1f} s one after the other "
        f"({data_one_by_one / GOAL_SECONDS:.2f}x the goal), {data_all_cores:7.1f} s perfectly spread "
        f"({data_all_cores / GOAL_SECONDS:.2f}x); the graph alone: {graph.wall:.1f} s"
    )
    if args.build_seconds:
        print(
            f"measured full build {args.build_seconds:.1f} s = {args.build_seconds / one_by_one:.2f}x the "
            f"first floor, {args.build_seconds / all_cores:.2f}x the second"
        )


if __name__ == "__main__":
    main()
