"""Benchmark: writing the biggest fact in DuckDB's default storage format and in its newest one, side by side.

    .venv/bin/python bench/bench_storage_format.py --source /tmp/bench/warehouse/build/herald.duckdb --rounds 2

Copies ``profile_events`` (50M rows at 1M profiles) of a built warehouse file into a new file, once per format
per round, the two formats taking turns so that load from other work slows them alike. Prints the wall time
and the file size of each copy and the ratio of the newest format to the default. Writing and compressing
this table is about half of the model's build (BENCHMARKS.md). No assertions: the figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

FORMATS = {"default": "", "latest": "(storage_version 'latest')"}


def copy_once(source: Path, table: str, options: str, threads: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="herald-storage-") as tmp:
        target = Path(tmp) / "copy.duckdb"
        con = duckdb.connect()
        try:
            con.execute(f"set threads = {threads}")
            con.execute(f"attach '{source}' as source (read_only)")
            con.execute(f"attach '{target}' as copy {options}")
            started = time.perf_counter()
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
            print(f"round {round_number} {name:<8} {seconds:7.1f} s  {size / 1e9:5.2f} GB", flush=True)
    default, latest = (statistics.median(times[name]) for name in FORMATS)
    print(f"median: default {default:.1f} s, latest {latest:.1f} s, latest / default {latest / default:.2f}x")


if __name__ == "__main__":
    main()
