"""Readers never fail on a lock and never see a half-built warehouse while imports and builds run."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pytest

from herald import landing, warehouse
from herald.build import build
from herald.errors import BuildError
from herald.importing import import_file
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS
from tests.conftest import ROOT, make_scratch_project

pytestmark = pytest.mark.slow

# Each read opens the published file and queries it (tens of milliseconds of CPU): a short pause between reads
# keeps two readers from taking most of a two-core machine away from the build they are meant to overlap.
READ_PAUSE_SECONDS = "0.05"


def _new_contacts_csv(path: Path, start: int, n: int) -> Path:
    lines = ["Customer ID,Email,First name,Country"]
    lines += [f"NEW{start + i:06d},new.person{start + i}@example.org,Ann,FR" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture(scope="module")
def live_project(tmp_path_factory: pytest.TempPathFactory, demo_project: Project) -> Project:
    """A demo warehouse of this module's own, which these tests import into and rebuild: a copy of the
    session's demo build (landing, build file, published file), so it costs a file copy, not a build."""
    return make_scratch_project(tmp_path_factory.mktemp("live"), demo_project)


def test_reads_during_imports_and_builds_see_only_whole_builds(live_project: Project, tmp_path: Path) -> None:
    project = live_project
    first_path = warehouse.current_path(project)
    first_build = first_path.stem.removeprefix("herald-")
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/warehouse/reader_loop.py"),
                str(project.warehouse_dir),
                str(stop),
                "600",
                str(tmp_path / f"reads{i}.jsonl"),
                READ_PAUSE_SECONDS,
            ],
            cwd=ROOT,
        )
        for i in range(2)
    ]
    builds = [first_build]
    try:
        # One import and one real build + publish while both readers read (each read sees the old or the new build).
        report = import_file(project, "profiles", _new_contacts_csv(tmp_path / "new.csv", 0, 50))
        assert report.rows_inserted == 50
        builds.append(build(project, quiet=True).build_id)
        # Let every reader open the last build at least once (bounded: a loaded machine can be slow).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            builds[-1] in _read_text(tmp_path / f"reads{i}.jsonl") for i in range(2)
        ):
            time.sleep(0.2)
    finally:
        stop.touch()
        for r in readers:
            r.wait(timeout=120)
    reads = [
        json.loads(line)
        for i in range(2)
        for line in _read_text(tmp_path / f"reads{i}.jsonl").splitlines()
        if line.strip()
    ]
    errors = [r["error"] for r in reads if "error" in r]
    assert errors == [], f"{len(errors)} failed reads, first: {errors[:3]}"
    assert len(reads) > 50, "readers barely ran; the test proves nothing"
    figures_by_build: dict[str, set[tuple[int, int, int]]] = defaultdict(set)
    for r in reads:
        assert r["profiles"] == r["identities"], f"profiles and identities disagree within build {r['build']}"
        figures_by_build[r["build"]].add((r["profiles"], r["identities"], r["contacts"]))
    assert all(len(f) == 1 for f in figures_by_build.values()), f"a build changed under a reader: {figures_by_build}"
    assert set(figures_by_build) <= set(builds)
    assert builds[-1] in figures_by_build, "readers never saw the last build"
    profiles = [next(iter(figures_by_build[b]))[0] for b in builds if b in figures_by_build]
    assert profiles == sorted(profiles)


def test_a_failing_build_publishes_nothing(live_project: Project) -> None:
    project = live_project
    good = warehouse.current_path(project)
    # A required raw column is null: the source not_null test fails, so the build must not publish.
    bad = pa.table(
        {
            "consent_event_id": ["X1"],
            "external_key": ["C0000001"],
            "channel": ["email"],
            "topic": pa.array([None], pa.string()),
            "status": ["opt_in"],
            "occurred_at": pa.array([dt.datetime(2026, 11, 1)], pa.timestamp("us")),
        }
    )
    landing.land_batch(project, CONSENT_EVENTS, bad, source_file="bad.csv")
    with pytest.raises(BuildError, match="nothing was published"):
        build(project, quiet=True)
    assert warehouse.current_path(project) == good
