"""Fixtures for the app tests: the real demo warehouse to point the app at, helpers to read it directly, and
for the browser tests Chromium and a Streamlit server.

The warehouse is ``demo_project`` from tests/conftest.py: the demo data landed and built with dbt once per
session, published exactly as ``herald demo`` publishes it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from herald.project import Project
from herald.warehouse import deliveries_path, open_published
from tests.app.browser import streamlit_server

ROOT = Path(__file__).resolve().parents[2]


class Warehouse:
    """A published warehouse folder and read-only queries against the file ``CURRENT`` names."""

    def __init__(self, warehouse_dir: Path) -> None:
        self.dir = warehouse_dir

    @property
    def path(self) -> Path:
        name = (self.dir / "CURRENT").read_text(encoding="utf-8").strip()
        return self.dir / "published" / name

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        con = open_published(self.path)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.rows(sql, params)[0][0]


@pytest.fixture(scope="session")
def warehouse(demo_project: Project) -> Warehouse:
    """The real demo warehouse (landed and built once per session by ``demo_project``). Read-only."""
    return Warehouse(demo_project.warehouse_dir)


@pytest.fixture
def app_env(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """Point the app (run in this process by AppTest) at the session warehouse."""
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(warehouse.dir))
    return warehouse


@pytest.fixture
def own_warehouse(warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """A private copy of the session warehouse that a test may publish into, with the app pointed at it."""
    wh_dir = tmp_path / "warehouse"
    (wh_dir / "published").mkdir(parents=True)
    shutil.copyfile(warehouse.path, wh_dir / "published" / warehouse.path.name)
    runs = deliveries_path(warehouse.path)
    shutil.copyfile(runs, wh_dir / "published" / runs.name)
    (wh_dir / "CURRENT").write_text(warehouse.path.name + "\n", encoding="utf-8")
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(wh_dir))
    return Warehouse(wh_dir)


@pytest.fixture
def no_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at a warehouse folder where nothing has been published."""
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    return tmp_path / "warehouse"


@pytest.fixture
def scratch_app(scratch_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A writable copy of the project root and of the demo warehouse, with the app pointed at both: for tests
    that save audiences and build them."""
    monkeypatch.setenv("HERALD_HOME", str(scratch_project.root))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(scratch_project.warehouse_dir))
    return scratch_project


@pytest.fixture
def scratch_specs(warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A writable copy of the project root over the read-only session warehouse, with the app pointed at them:
    for tests that write specs (or fail to save them) but never build."""
    from tests.conftest import make_scratch_project

    root = make_scratch_project(tmp_path).root
    monkeypatch.setenv("HERALD_HOME", str(root))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(warehouse.dir))
    return Project(root=root, warehouse_dir=warehouse.dir)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; checked before the warehouse is built and the server started."""
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (`make test` installs it: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def server(warehouse: Warehouse, tmp_path: Path) -> Iterator[str]:
    """A Streamlit server over the project and the session warehouse (read-only); yields its URL."""
    with streamlit_server(ROOT, warehouse.dir, tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture
def scratch_server(chromium: str, scratch_project: Project, tmp_path: Path) -> Iterator[str]:
    """A Streamlit server over a scratch copy of the project and its warehouse, for pages that write specs or
    publish; yields its URL."""
    with streamlit_server(scratch_project.root, scratch_project.warehouse_dir, tmp_path / "streamlit.log") as url:
        yield url
