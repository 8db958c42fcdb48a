"""Shared fixtures: a project pointed at a temporary warehouse folder, and one demo warehouse per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.project import Project

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An empty project state in a temporary folder, over the repository's dbt project."""
    return Project(root=ROOT, warehouse_dir=tmp_path / "warehouse")


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The demo data landed and built once per session (a real dbt build on DuckDB). Treat it as read-only."""
    from herald.build import build
    from herald.demo import load_demo

    project = Project(root=ROOT, warehouse_dir=tmp_path_factory.mktemp("demo") / "warehouse")
    load_demo(project)
    build(project, quiet=True)
    yield project


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
