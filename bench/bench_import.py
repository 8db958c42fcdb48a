"""Time ``import_file`` on a generated 1,000,000-row contacts CSV (prints rows/s; asserts nothing).

    .venv/bin/python bench/bench_import.py [--rows 1000000] [--update]

``--update`` imports the same keys a second time, which exercises the upsert against landed data.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from pathlib import Path

import duckdb

from herald.importing import import_file
from herald.project import Project

FIRST = ["Anna", "Bernd", "Chloé", "Dmitri", "Elif", "François", "Greta", "Hiro", "Inès", "Jürgen"]
LAST = ["Müller", "Martin", "Rossi", "García", "Smith", "Nowak", "Dubois", "Jansen", "Silva", "Kowalski"]
COUNTRIES = ["DE", "FR", "Deutschland", "IT", "ES", "NL", "United Kingdom", "us", "BE", "AT"]


def write_contacts(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic export: synonyms for headers, day-first dates, country names, 2% broken emails."""
    rng = random.Random(seed)
    births = [f"{d:02d}/{m:02d}/19{y}" for d in range(1, 29) for m in range(1, 13) for y in range(40, 99)]
    created = [f"2024-{m:02d}-{d:02d}T{h:02d}:15:00Z" for m in range(1, 13) for d in range(1, 29) for h in range(24)]
    streets = [f"{n} Hauptstraße" for n in range(1, 200)]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ["Customer ID", "First name", "Last name", "E-mail Address", "Mobile", "Street", "Zip", "City",
             "Country", "Language", "DOB", "Created", "Loyalty Tier"]
        )  # fmt: skip
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{i}@example.com" if i % 50 else f"broken{i}@"
            out.writerow(
                [f"C{i:08d}", first, last, email, f"+49 151 {i:07d}", rng.choice(streets), f"{10000 + i % 89999}",
                 "Berlin", rng.choice(COUNTRIES), "de", rng.choice(births), rng.choice(created),
                 rng.choice(["gold", "silver", ""])]
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--update", action="store_true", help="import the file a second time (all updates)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "contacts.csv"
        started = time.perf_counter()
        write_contacts(source, args.rows)
        size_mb = source.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f}s")
        # Baseline: DuckDB's own CSV reader copying the file to Parquet with no mapping, validation or upsert.
        started = time.perf_counter()
        duckdb.sql(f"copy (select * from read_csv('{source}', all_varchar=true)) to '{folder / 'baseline.parquet'}'")
        baseline = time.perf_counter() - started
        print(f"baseline (duckdb read_csv -> parquet, no checks): {args.rows / baseline:,.0f} rows/s ({baseline:.1f}s)")
        project = Project(root=Path(__file__).resolve().parent.parent, warehouse_dir=folder / "warehouse")
        runs = 2 if args.update else 1
        for run in range(runs):
            started, cpu = time.perf_counter(), time.process_time()
            report = import_file(project, "profiles", source, unknown_columns="attributes")
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            label = "update" if run else "import"
            load = os.getloadavg()[0]
            print(
                f"{label}: {args.rows / elapsed:,.0f} rows/s ({elapsed:.1f}s wall, {cpu:.1f}s CPU, load {load:.1f}); "
                f"{elapsed / baseline:.1f}x the baseline"
            )
            print(report.summary())


if __name__ == "__main__":
    main()
