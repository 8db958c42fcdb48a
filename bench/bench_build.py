"""Benchmark: generate the raw shape at scale, build it with dbt, and run the same SQL directly on DuckDB.

    .venv/bin/python bench/bench_build.py --profiles 1000000

Prints, side by side: generation time, the dbt build (models + tests) time, the time of the very same
compiled SQL executed by DuckDB without dbt, dbt's overhead as a ratio, and peak memory of each step.
No assertions: the figures go to BENCHMARKS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from herald import landing  # noqa: E402
from herald.build import BUILD_FILE_CONFIG, dbt_env, dbt_executable  # noqa: E402
from herald.project import Project  # noqa: E402


def _child_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def generate(out: Path, profiles: int, events: int) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "herald.cli",
            "generate",
            "--profiles",
            str(profiles),
            "--events-per-profile",
            str(events),
            "--out",
            str(out),
        ],
        check=True,
        cwd=ROOT,
    )
    return time.monotonic() - started


def dbt_build(project: Project, *args: str) -> tuple[float, Path]:
    """``dbt build`` over every batch landed so far (``args`` appended, e.g. ``--full-refresh``)."""
    env = dbt_env(project, batch_cutoff=landing.latest_batch_id(project))
    started = time.monotonic()
    proc = subprocess.run([dbt_executable(), "build", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-5000:])
        raise SystemExit("dbt build failed")
    return seconds, Path(env["DBT_TARGET_PATH"])


def raw_sql(project: Project, target: Path) -> float:
    """Execute dbt's compiled statements, in the order dbt ran them, directly on a fresh DuckDB file."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    manifest = json.loads((target / "manifest.json").read_text())
    ordered = sorted(results, key=lambda r: r["timing"][0]["started_at"] if r["timing"] else "")
    path = project.warehouse_dir / "raw-sql" / "herald.duckdb"  # same catalog name as the dbt build
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path), config=BUILD_FILE_CONFIG)  # the build files' format
    # The delivery models live in a database of their own (profiles.yml attaches it as `deliveries`).
    runs = path.with_name("deliveries.duckdb")
    runs.unlink(missing_ok=True)
    con.execute(f"attach '{runs}' as deliveries")
    started = time.monotonic()
    for result in ordered:
        node = manifest["nodes"].get(result["unique_id"])
        if node is None or node["resource_type"] not in ("model", "test", "seed"):
            continue
        if node["resource_type"] == "seed":
            schema = node["schema"]
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(
                f'create or replace table "{schema}"."{node["alias"]}" as select * from read_csv(?)',
                [str(ROOT / node["original_file_path"])],
            )
            continue
        if node["resource_type"] == "test" and "unit_test" in result["unique_id"]:
            continue
        sql = node.get("compiled_code") or ""
        if node["resource_type"] == "model":
            database, schema, alias = node["database"], node["schema"], node["alias"]
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            con.execute(f'create schema if not exists "{database}"."{schema}"')
            con.execute(f'create or replace {kind} "{database}"."{schema}"."{alias}" as {sql}')
        else:
            con.execute(f"select count(*) from ({sql}) failures").fetchone()
    seconds = time.monotonic() - started
    con.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events-per-profile", type=int, default=50)
    parser.add_argument(
        "--workdir", help="keep data here and reuse it on the next run (default: a temporary folder, removed after)"
    )
    args = parser.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="herald-bench-"))
    project = Project(root=ROOT, warehouse_dir=work / "warehouse")
    project.ensure_dirs()
    try:
        reuse = args.workdir and any(project.landing_dir.glob("app_events/*.parquet"))
        gen_s = float("nan") if reuse else generate(project.landing_dir, args.profiles, args.events_per_profile)
        gen_peak = _child_peak_mb()
        landing.ensure_initialized(project)
        build_s, target = dbt_build(project)
        build_peak = _child_peak_mb()
        raw_s = raw_sql(project, target)
        raw_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        con = duckdb.connect(str(project.build_path), read_only=True)
        events = con.execute("select count(*) from profile_events").fetchone()[0]  # type: ignore[index]
        profiles = con.execute("select count(*) from profiles").fetchone()[0]  # type: ignore[index]
        con.close()
        size_gb = project.build_path.stat().st_size / 1e9
        print()
        print(
            f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"duckdb {duckdb.__version__}"
        )
        print(f"data: {profiles:,} profiles, {events:,} events in profile_events, build file {size_gb:.1f} GB")
        print(f"{'step':<34}{'seconds':>10}{'peak RSS MB':>14}")
        print(f"{'herald generate':<34}{gen_s:>10.1f}{gen_peak:>14,.0f}")
        print(f"{'dbt build (models + tests)':<34}{build_s:>10.1f}{build_peak:>14,.0f}")
        print(f"{'same SQL directly on DuckDB':<34}{raw_s:>10.1f}{raw_peak:>14,.0f}")
        print(f"dbt overhead: {build_s / raw_s:.2f}x the raw SQL (goal <= 1.5x); full build goal <= 120 s")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
