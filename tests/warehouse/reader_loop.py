"""A reader process for the concurrency test: reads the published warehouse in a loop, like the app does.

Appends one JSON line per read to its output file: the build it saw and figures that must agree within
one consistent build. Runs until the stop file appears (bounded by a deadline), pausing between reads.

    python tests/warehouse/reader_loop.py WAREHOUSE_DIR STOP_FILE MAX_SECONDS OUT_FILE [PAUSE_SECONDS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from herald import warehouse
from herald.project import Project

ROOT = Path(__file__).resolve().parents[2]


def main(warehouse_dir: str, stop_file: str, max_seconds: float, out_file: str, pause: float = 0.01) -> None:
    project = Project(root=ROOT, warehouse_dir=Path(warehouse_dir))
    deadline = time.monotonic() + max_seconds
    out = open(out_file, "a", encoding="utf-8")  # noqa: SIM115 - open for the life of the loop
    while not Path(stop_file).exists() and time.monotonic() < deadline:
        try:
            con = warehouse.connect(project)
            try:
                build_id, profiles, identities, contacts = con.execute(
                    "select (select build_id from herald_meta.build_info),"
                    " (select count(*) from profiles),"
                    " (select count(distinct profile_id) from profile_identities),"
                    " (select count(*) from profile_identities)"
                ).fetchone()  # type: ignore[misc]
            finally:
                con.close()
            record = {"build": build_id, "profiles": profiles, "identities": identities, "contacts": contacts}
            out.write(json.dumps(record) + "\n")
        except Exception as exc:  # every failure is the finding: report it, keep reading
            out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        time.sleep(pause)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], *(float(a) for a in sys.argv[5:6]))
