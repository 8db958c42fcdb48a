"""Shared fixtures: a project pointed at a temporary warehouse folder, and one demo warehouse per session."""

from __future__ import annotations

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
