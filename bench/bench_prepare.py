"""Benchmark: prepare a delivery with every typology rule on, over a warehouse built from `herald generate`.

    .venv/bin/python bench/bench_prepare.py --workdir /tmp/bench --delivery winter_sale_email

The workdir holds a Herald state folder (``warehouse/``) whose landing zone has scale data (bench_build.py
makes one). The script builds and publishes it if needed, then prepares the delivery twice — the first may be a
full build, the second is the normal path: the delivery models and their tests on top of the published build
(audiences as published), control rules, publish of the delivery-runs file — and, side by side, runs the
compiled SQL of the rule model directly on DuckDB (the same question without dbt, controls or publishing) for the
ratio. No assertions: figures go to BENCHMARKS.md.
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

from herald import warehouse  # noqa: E402
from herald.build import build  # noqa: E402
from herald.campaigns.prepare import prepare  # noqa: E402
from herald.project import Project  # noqa: E402


def _peak_mb() -> float:
    return (
        max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        / 1024
    )


def raw_sql_seconds(project: Project) -> tuple[float, int]:
    """Run the compiled delivery_run_recipients SQL of the last prepare on a copy of the published file."""
    compiled = next((project.warehouse_dir / "dbt" / "target" / "compiled").rglob("delivery_run_recipients.sql"))
    sql = compiled.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(dir=project.warehouse_dir) as tmp:
        # The compiled SQL names the build file's catalog ("herald"): replay it in a file of that name.
        copy = Path(tmp) / "herald.duckdb"
        shutil.copyfile(warehouse.current_path(project), copy)
        con = duckdb.connect(str(copy), read_only=True)
        if (attach := warehouse.attach_deliveries_sql(warehouse.current_path(project))) is not None:
            con.execute(attach)
        try:
            started = time.monotonic()
            rows = con.execute(f"select count(*) from ({sql})").fetchone()
            return time.monotonic() - started, int(rows[0]) if rows else 0
        finally:
            con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="folder holding warehouse/ with landed data")
    parser.add_argument("--delivery", default="winter_sale_email")
    args = parser.parse_args()
    project = Project(root=ROOT, warehouse_dir=(args.workdir / "warehouse").resolve())
    os.environ["HERALD_WAREHOUSE_DIR"] = str(project.warehouse_dir)

    started = time.monotonic()
    result = build(project, quiet=True)
    build_seconds = time.monotonic() - started
    profiles = 0
    con = warehouse.connect(project)
    try:
        profiles = int(con.execute("select count(*) from profiles").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()

    first = prepare(project, args.delivery)
    second = prepare(project, args.delivery)
    raw_seconds, raw_rows = raw_sql_seconds(project)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"profiles: {profiles:,}; build {result.build_id}: {build_seconds:.1f} s "
        f"({'skipped: nothing changed' if result.published_path is None else 'built and published'})"
    )
    print(
        f"delivery {args.delivery}: audience {second.audience_size:,}, send {second.send_count:,}, "
        f"control {second.control_count:,}, excluded {second.excluded_count:,}"
    )
    print(f"{'step':<52} {'seconds':>8}")
    print(f"{'prepare, first (may include a full build)':<52} {first.seconds:>8.1f}")
    print(f"{'prepare (rules + tests + controls + publish)':<52} {second.seconds:>8.1f}")
    print(f"{'same rule SQL run directly on DuckDB (baseline)':<52} {raw_seconds:>8.1f}   rows {raw_rows:,}")
    print(f"{'ratio prepare / baseline':<52} {second.seconds / raw_seconds:>8.1f}x")
    print(f"same digest both times: {first.digest == second.digest}; peak memory {_peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
