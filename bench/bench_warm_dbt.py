"""dbt commands as new processes, beside the same commands forked from a warm helper (herald/warm_dbt.py).

    .venv/bin/python bench/bench_warm_dbt.py --runs 5

One empty project is parsed once; then ``dbt ls --select profiles`` (a command that does little besides starting
dbt and reading the manifest) runs ``--runs`` times each way, the two ways taking turns so that other work on the
machine slows them alike. Prints the wall time per command and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from herald import warm_dbt
from herald.build import run_dbt
from herald.project import Project

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="herald-bench-warm-") as tmp:
        project = Project(root=ROOT, warehouse_dir=Path(tmp) / "warehouse")
        project.ensure_dirs()
        run_dbt(project, ["parse"], quiet=True)
        times: dict[str, list[float]] = {"command": [], "warm": []}
        for _ in range(args.runs):
            for way in times:
                os.environ[warm_dbt.ENV_FLAG] = "1" if way == "warm" else "0"
                started = time.monotonic()
                run_dbt(project, ["ls", "--select", "profiles"], quiet=True)
                times[way].append(time.monotonic() - started)
    command, warm = (statistics.median(times[w]) for w in ("command", "warm"))
    print(f"dbt ls, {args.runs} runs each, median wall per command ({os.cpu_count()} CPUs)")
    print(f"  a new dbt process          {command:6.2f} s")
    print(f"  forked from a warm helper  {warm:6.2f} s   ({command / warm:.1f}x faster)")


if __name__ == "__main__":
    main()
