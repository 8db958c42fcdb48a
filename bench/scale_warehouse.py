"""Benchmark data: a warehouse K times the size of a built one, for the audience live count at 10M profiles.

    .venv/bin/python bench/scale_warehouse.py --source /tmp/bench/warehouse --copies 10 --out /tmp/bench10
    .venv/bin/python bench/bench_audience_count.py --warehouse /tmp/bench10/warehouse/build/herald.duckdb \
        --no-build --no-pandas --runs 20

Generating 10M profiles with ~50 events each and building every model over them would take this 2-core machine
hours and ~60 GB of disk. The live count reads four marts (``profiles``, ``profile_consents``, ``orders``,
``profile_events``) and the per-profile rollup built from them, so this script scales just those: it copies the
four marts of a published build (from ``herald generate`` and a full ``dbt build``) ``--copies`` times into a new
warehouse file, every identifier of copy k > 0 suffixed with ``~k`` (profile, event, order and consent ids,
external keys; e-mail addresses as ``local+k@domain``), so each copy is a new set of profiles with the same
attributes, orders and events as the first. Then dbt builds ``profile_rollups`` and its tests over them, at the
source build's reference time (``as_of``), and the build's metadata is copied, so the live count sees a build.

Copy 0 is the source data unchanged, so every audience's member count is exactly ``--copies`` times its count on
the source build: a check on the scaled figures (the audience-count benchmark asserts that every method gives one
count; it is 326,660 = 10 x 32,666 for its audience on the 1M build of BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from herald import warehouse  # noqa: E402
from herald.audiences.schema import PROFILE_ROLLUPS  # noqa: E402
from herald.build import run_dbt  # noqa: E402
from herald.project import Project  # noqa: E402

MARTS = ("profiles", "profile_consents", "orders", "profile_events")
# Columns that identify a row or a person: suffixed per copy so every copy is a new set of profiles.
IDENTIFIERS = frozenset(
    {"profile_id", "external_key", "event_id", "order_id", "profile_consent_id", "consent_event_id"}
)


def copy_select(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The select list of ``table``'s copy ``k`` (a bound column of the enclosing query)."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = 'source' and table_schema = 'main' and table_name = ?"
        " order by ordinal_position",
        [table],
    ).fetchall()
    parts = []
    for name, sql_type in columns:
        quoted = f'"{name}"'
        if name in IDENTIFIERS and sql_type == "VARCHAR":
            parts.append(f"case when k = 0 then {quoted} else {quoted} || '~' || k end as {quoted}")
        elif name == "email" and sql_type == "VARCHAR":
            parts.append("case when k = 0 then email else replace(email, '@', '+' || k || '@') end as email")
        else:
            parts.append(quoted)
    return ", ".join(parts)


def scale(source: Path, copies: int, out: Path) -> None:
    build_dir = out / "warehouse" / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / "herald.duckdb"
    for stale in (target, build_dir / "deliveries.duckdb"):
        stale.unlink(missing_ok=True)

    source_con = warehouse.open_published(source)
    try:
        build_info = source_con.execute("select * from herald_meta.build_info").to_arrow_table()
    finally:
        source_con.close()
    as_of = build_info.column("as_of")[0].as_py()

    con = duckdb.connect(str(target))
    try:
        con.execute(f"attach '{source}' as source (read_only)")
        con.execute("create schema herald_meta")
        con.register("source_build_info", build_info)
        con.execute("create table herald_meta.build_info as select * from source_build_info")
        for table in MARTS:
            started = time.perf_counter()
            select = copy_select(con, table)
            con.execute(f"create table main.{table} as select * from source.main.{table} limit 0")
            for k in range(copies):
                # One copy at a time, each in the source's row order: the table reads as a build would write it.
                copy = f"(select *, {k} as k from source.main.{table})"
                con.execute(f"insert into main.{table} select {select} from {copy}")
            rows = con.execute(f"select count(*) from main.{table}").fetchone()
            print(f"{table}: {rows[0] if rows else 0:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
        con.execute("detach source")
    finally:
        con.close()

    started = time.perf_counter()
    project = Project(root=ROOT, warehouse_dir=out / "warehouse")
    run_dbt(project, ["build", "--select", PROFILE_ROLLUPS], env={"HERALD_AS_OF": str(as_of)}, quiet=True)
    print(f"{PROFILE_ROLLUPS}: built and tested by dbt in {time.perf_counter() - started:.0f} s (as_of {as_of})")
    print(f"warehouse: {target} ({target.stat().st_size / 1e9:.1f} GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a warehouse folder with a published build")
    parser.add_argument("--copies", type=int, default=10, help="how many copies of the source's profiles")
    parser.add_argument("--out", type=Path, required=True, help="folder for the scaled warehouse")
    args = parser.parse_args()
    if args.copies < 1:
        parser.error("--copies must be at least 1")
    project = Project(root=ROOT, warehouse_dir=args.source)
    scale(warehouse.current_path(project), args.copies, args.out)


if __name__ == "__main__":
    main()
