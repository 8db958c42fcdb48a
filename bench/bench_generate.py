"""Benchmark: generate the raw shape for a million profiles into a temporary folder.

    .venv/bin/python bench/bench_generate.py --profiles 1000000

Prints the seconds taken (wall and CPU, with the machine's load average, since other work on a shared machine
stretches wall time), rows per raw table, on-disk size and the peak resident memory of this process (DuckDB runs
in-process). No assertions: the figures are for the record.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from herald.generate import generate  # noqa: E402
from herald.progress import ProgressBar  # noqa: E402


def _size_gb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*.parquet")) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events-per-profile", type=int, default=50)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--workdir", help="keep the data here (default: a temporary folder, removed after)")
    args = parser.parse_args()
    out = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="herald-bench-generate-"))
    try:
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        report = generate(
            out,
            profiles=args.profiles,
            events_per_profile=args.events_per_profile,
            memory_limit=args.memory_limit,
            progress=ProgressBar(),
        )
        seconds = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        peak_mb = usage.ru_maxrss / 1024
        print()
        print(
            f"machine: {platform.machine()} {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, duckdb {duckdb.__version__}"
        )
        print(f"generate(profiles={args.profiles:,}, events_per_profile={args.events_per_profile}): {seconds:.1f} s")
        print(
            f"CPU: {cpu:.0f} s ({cpu / seconds:.2f} cores busy); load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )
        for table, rows in report.rows.items():
            print(f"  {table:<18}{rows:>14,}")
        print(f"  {'total rows':<18}{sum(report.rows.values()):>14,}")
        print(f"parquet on disk: {_size_gb(out):.2f} GB in {len(report.batch_ids)} batches")
        print(f"peak RSS: {peak_mb:,.0f} MB (memory_limit {args.memory_limit})")
    finally:
        if not args.workdir:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
