"""Fixtures for import tests: a project with its own empty warehouse (inputs go beside it in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.project import Project
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(root=ROOT, warehouse_dir=tmp_path / "warehouse")
