"""Shared fixtures: a project pointed at a temporary warehouse folder, and one demo warehouse per session."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from herald import clock, warm_dbt
from herald.demo import DemoShift, move_demo_specs
from herald.project import Project

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


# dbt's unit tests check the SQL of the models on fixed rows, whatever the data: the demo build runs them (and so
# do the PostgreSQL and Spark builds), the other warehouses the suite builds skip them.
SKIP_UNIT_TESTS = "DBT_EXCLUDE_RESOURCE_TYPES"


# The suite's reference time: the day after the demo seeds end, so the demo lands unmoved (the PostgreSQL and Spark
# builds seed the same files) and the demo plan's schedules lie ahead. Every clock read in Herald and in the tests
# (herald.clock) starts here and ticks; the wall clock's date never matters (the suite passes a year ahead).
REFERENCE_TIME = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def pytest_configure(config: pytest.Config) -> None:
    # Set once by the first process: workers and every subprocess inherit the same offset, so stamps agree.
    if clock.OFFSET_ENV not in os.environ:
        clock.pin_environment(REFERENCE_TIME)
    os.environ.setdefault(SKIP_UNIT_TESTS, "unit_test")
    # The suite runs dbt well over a hundred times: each forks from a warm helper instead of importing dbt again
    # (herald/warm_dbt.py). HERALD_WARM_DBT=0 runs every command as a plain `dbt` process.
    os.environ.setdefault(warm_dbt.ENV_FLAG, "1")


@contextmanager
def dbt_unit_tests() -> Iterator[None]:
    """Run dbt's unit tests in the builds started inside this block."""
    saved = os.environ.pop(SKIP_UNIT_TESTS, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[SKIP_UNIT_TESTS] = saved


# Tests that share a world which takes minutes to build run on one worker under `pytest -n` (the world is built
# once, not once per worker); every other file is a group of its own, so module fixtures are built once too.
SHARED_WORLDS = ("send_world",)
# The longest groups go out first, so that no worker is left with one of them at the end while the other idles.
LONG_GROUPS = (
    "tests/dbt/test_portability.py::test_spark_builds_and_agrees_with_duckdb",
    "send_world",
    "tests/engagement/test_engagement_build.py",
    "tests/campaigns/test_prepare.py",
    "tests/tracking/test_consent_pages.py",
    "tests/warehouse/test_concurrent_readers.py",
    "tests/warehouse/test_profile_events_incremental.py",
    "tests/warehouse/test_calendar.py",
    "tests/dbt/test_portability.py",
    "tests/dbt/test_own_tables.py",
    "tests/packaging/test_installed.py",
    "tests/app/test_audiences_browser.py",
    "tests/automation/test_entries.py",
    "tests/app/test_audiences_page.py",
    "tests/tracking/test_forms.py",
)


def _group(item: pytest.Item) -> str:
    for world in SHARED_WORLDS:
        if world in item.fixturenames:  # type: ignore[attr-defined]
            return world
    path = item.nodeid.split("::")[0]
    return item.nodeid if item.nodeid in LONG_GROUPS else path


# First: pytest-xdist reads the group markers in its own hook of the same name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {group: i for i, group in enumerate(LONG_GROUPS)}
    items.sort(key=lambda item: rank.get(_group(item), len(LONG_GROUPS)))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project state in a temporary folder, over the repository's dbt project."""
    return Project(root=ROOT, warehouse_dir=tmp_path / "warehouse")


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Project]:
    """The demo data landed and built once per session (a real dbt build on DuckDB). Treat it as read-only.

    Under `pytest -n` the first worker to need it builds it in the run's shared folder and the others copy it:
    the machine builds it once."""
    from herald.build import build
    from herald.demo import load_demo

    def build_demo(warehouse_dir: Path) -> Project:
        project = Project(root=ROOT, warehouse_dir=warehouse_dir)
        load_demo(project)
        with dbt_unit_tests():
            build(project, quiet=True)
        return project

    if worker_id == "master":
        yield build_demo(tmp_path_factory.mktemp("demo") / "warehouse")
        return
    shared = tmp_path_factory.getbasetemp().parent / "demo-warehouse"
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "CURRENT").exists():
            build_demo(shared)
    own = tmp_path_factory.mktemp("demo") / "warehouse"
    shutil.copytree(shared, own, ignore=shutil.ignore_patterns("locks", "jobs", "*.partial"))
    yield Project(root=ROOT, warehouse_dir=own)


# What a project root holds besides the Python code: copied into a scratch root for tests that write specs.
_PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
_PROJECT_DIRS = ("dbt_project", "specs", "seeds/reference")


def make_scratch_project(tmp_path: Path, demo: Project | None = None) -> Project:
    """A private copy of the project root (dbt files, specs, reference seeds) that a test may write specs
    and generated models into; with ``demo``, also a copy of its warehouse folder (landing, build file,
    published files) so audience-only builds can publish on top of it."""
    root = tmp_path / "project"
    root.mkdir()
    for name in _PROJECT_FILES:
        shutil.copyfile(ROOT / name, root / name)
    for name in _PROJECT_DIRS:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("target", "__pycache__"))
    # The demo's specs in the seeds' calendar, whatever `herald demo` did to this checkout's copies.
    move_demo_specs(Project(root=root, warehouse_dir=tmp_path / "warehouse"), DemoShift(0, dt.date(2026, 11, 28)))
    warehouse_dir = tmp_path / "warehouse"
    if demo is not None:
        shutil.copytree(
            demo.warehouse_dir, warehouse_dir, ignore=shutil.ignore_patterns("locks", "jobs", "dbt", "*.partial")
        )
    return Project(root=root, warehouse_dir=warehouse_dir)


@pytest.fixture
def scratch_project(tmp_path: Path, demo_project: Project) -> Project:
    """A writable copy of the project root over a copy of the demo warehouse (see make_scratch_project)."""
    return make_scratch_project(tmp_path, demo_project)
