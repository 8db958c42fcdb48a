"""Benchmark: writing the biggest fact in DuckDB's default storage format, its newest one and Parquet, side by side.

    .venv/bin/python bench/bench_storage_format.py --source /tmp/bench/warehouse/build/herald.duckdb --rounds 2

Copies ``profile_events`` (50M rows at 1M profiles) of a built warehouse file into a new file, once per format
per round, and into a Parquet file (zstd, as dbt-duckdb's `external` materialization could write it), the
formats taking turns so that load from other work slows them alike. Prints the wall time and the file size of
each copy and the ratio of each to the default format. Writing and compressing this table is about half of
the model's build (BENCHMARKS.md). No assertions: the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

# Attach options of a DuckDB file, or None for a Parquet file.
FORMATS: dict[str, str | None] = {"default": "", "latest": "(storage_version 'latest')", "parquet_zstd": None}


def copy_once(source: Path, table: str, options: str | None, threads: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="herald-storage-") as tmp:
        target = Path(tmp) / ("copy.duckdb" if options is not None else "copy.parquet")
        con = duckdb.connect()
        try:
            con.execute(f"set threads = {threads}")
            con.execute(f"attach '{source}' as source (read_only)")
            started = time.perf_counter()
            if options is None:
                con.execute(
                    f"copy (select * from source.main.{table}) to '{target}' (format parquet, compression zstd)"
                )
            else:
                con.execute(f"attach '{target}' as copy {options}")
                con.execute(f"create table copy.main.{table} as select * from source.main.{table}")
                con.execute("checkpoint copy")
            seconds = time.perf_counter() - started
        finally:
            con.close()
        return seconds, target.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a built warehouse file (read-only)")
    parser.add_argument("--table", default="profile_events")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not args.table.isidentifier():
        parser.error("--table must be a plain table name")

    times: dict[str, list[float]] = {name: [] for name in FORMATS}
    for round_number in range(1, args.rounds + 1):
        for name, options in FORMATS.items():
            seconds, size = copy_once(args.source, args.table, options, args.threads)
            times[name].append(seconds)
            print(f"round {round_number} {name:<12} {seconds:7.1f} s  {size / 1e9:5.2f} GB", flush=True)
    medians = {name: statistics.median(seconds) for name, seconds in times.items()}
    print("median: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in medians.items()))
    print("ratio to default: " + ", ".join(f"{name} {s / medians['default']:.2f}x" for name, s in medians.items()))


if __name__ == "__main__":
    main()
