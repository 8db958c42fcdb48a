"""Where a Herald project keeps things on disk.

A project is the folder holding ``dbt_project.yml``. Under it, ``warehouse/`` (git-ignored) holds all state:

    warehouse/
    ├── landing/<raw table>/<batch id>.parquet   append-only raw batches (imports, demo, generated data)
    ├── build/herald.duckdb                      the file dbt writes: the marketing database, audiences, engagement
    ├── build/deliveries.duckdb                  the file dbt writes the delivery runs to (and herald_meta)
    ├── published/herald-<build id>.duckdb       read-only copies readers open (an unchanged one is hard-linked)
    ├── published/deliveries-<build id>.duckdb   its delivery runs, attached by readers as ``deliveries``
    ├── CURRENT                                  name of the published file readers should open
    ├── ledger/<run id>/shard-NNN.jsonl          the send ledger: append-only journals the senders write
    ├── inbox/events/<date>/<uuid>.jsonl         in-app reads and dismissals (senders/inbox.py)
    └── locks/                                   advisory locks (one build at a time)

``HERALD_HOME`` overrides the project folder and ``HERALD_WAREHOUSE_DIR`` the state folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from herald.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Project:
    """Paths of one project; two are equal when they point at the same folders."""

    root: Path
    warehouse_dir: Path

    @property
    def landing_dir(self) -> Path:
        return self.warehouse_dir / "landing"

    @property
    def build_dir(self) -> Path:
        return self.warehouse_dir / "build"

    @property
    def build_path(self) -> Path:
        return self.build_dir / "herald.duckdb"

    @property
    def deliveries_build_path(self) -> Path:
        return self.build_dir / "deliveries.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.warehouse_dir / "published"

    @property
    def current_pointer(self) -> Path:
        return self.warehouse_dir / "CURRENT"

    @property
    def locks_dir(self) -> Path:
        return self.warehouse_dir / "locks"

    @property
    def ledger_dir(self) -> Path:
        return self.warehouse_dir / "ledger"

    @property
    def inbox_dir(self) -> Path:
        return self.warehouse_dir / "inbox"

    @property
    def specs_dir(self) -> Path:
        return self.root / "specs"

    @property
    def seeds_dir(self) -> Path:
        return self.root / "seeds"

    def ensure_dirs(self) -> None:
        for d in (self.landing_dir, self.build_dir, self.published_dir, self.locks_dir):
            d.mkdir(parents=True, exist_ok=True)
        # An empty journal, so the ledger source reads (zero rows) before any run was sent; likewise for the
        # in-app inbox's events, which dbt reads in place. Created once, never touched again: their times are
        # part of what makes a build current (herald.build.streams_fingerprint).
        for placeholder in (
            self.ledger_dir / "_none" / "shard-000.jsonl",
            self.inbox_dir / "events" / "_none" / "none.jsonl",
        ):
            if not placeholder.exists():
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.touch()


def find_project(start: Path | None = None) -> Project:
    """The project at ``HERALD_HOME``, or the nearest folder above ``start`` (default: cwd) with dbt_project.yml."""
    home = os.environ.get("HERALD_HOME")
    if home:
        root = Path(home).resolve()
        if not (root / "dbt_project.yml").is_file():
            raise ConfigError(f"HERALD_HOME={home} has no dbt_project.yml")
    else:
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "dbt_project.yml").is_file():
                root = candidate
                break
        else:
            # Installed without a checkout around it: the package's own project folder.
            root = Path(__file__).resolve().parent.parent
            if not (root / "dbt_project.yml").is_file():
                raise ConfigError(f"no dbt_project.yml in {here} or above; set HERALD_HOME")
    wh = os.environ.get("HERALD_WAREHOUSE_DIR")
    warehouse_dir = Path(wh).resolve() if wh else root / "warehouse"
    return Project(root=root, warehouse_dir=warehouse_dir)
