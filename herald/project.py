"""Where a Herald project keeps things on disk.

A project is the folder holding ``herald.yml`` (its settings, ``herald/settings.py``): its specs, its own dbt
project and its state. ``herald init`` writes one (``herald/scaffold.py``); this repository is one too, whose dbt
project is Herald's own package. Under the project, ``warehouse/`` (git-ignored; ``herald.yml`` may move it)
holds all state:

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

Two layouts of the dbt side, told apart by ``package``:

    this repository (package None)   dbt_project.yml is Herald's; models under dbt_project/models, generated
                                     audience models in dbt_project/models/marts/audiences/generated
    a project of its own             dbt_project.yml is the project's, Herald's models come in as the dbt
                                     package ``herald`` (packages.yml); its own models under models/, generated
                                     audience models in generated/audiences (dbt reads them as part of the
                                     package, herald.package.assemble_package)

``HERALD_HOME`` overrides the project folder and ``HERALD_WAREHOUSE_DIR`` the state folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from herald.errors import ConfigError
from herald.package import herald_dbt_package, is_herald_package
from herald.settings import SETTINGS_FILE, read_settings

# Where the generated audience models go, relative to the project root, in either layout.
_CHECKOUT_GENERATED = Path("dbt_project/models/marts/audiences/generated")
_PROJECT_GENERATED = Path("generated/audiences")
# Herald's models, relative to its package.
_PACKAGE_MODELS = Path("dbt_project/models")


@dataclass(frozen=True, slots=True)
class Project:
    """Paths of one project; two are equal when they point at the same folders.

    ``landing`` is the landing folder when the settings move it out of the state folder; ``package`` is Herald's
    dbt package when the project's dbt project is not that package itself (a project made by ``herald init``).
    """

    root: Path
    warehouse_dir: Path
    landing: Path | None = None
    package: Path | None = None

    @property
    def landing_dir(self) -> Path:
        return self.landing if self.landing is not None else self.warehouse_dir / "landing"

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

    # ------------------------------------------------------------------------------------------ the dbt side

    @property
    def uses_package(self) -> bool:
        """True when Herald's models come in as a dbt package (a project of its own), not as the root project."""
        return self.package is not None

    @property
    def dbt_package_dir(self) -> Path:
        """Herald's dbt package: its models, macros, tests, contracts and seeds."""
        return self.package if self.package is not None else self.root

    @property
    def models_dir(self) -> Path:
        """The folder of the project's own dbt models."""
        return self.root / "models" if self.uses_package else self.root / _PACKAGE_MODELS

    @property
    def generated_dir(self) -> Path:
        """The folder Herald generates audience models into: the project's, never an installed package's."""
        return self.root / (_PROJECT_GENERATED if self.uses_package else _CHECKOUT_GENERATED)

    @property
    def assembled_package_dir(self) -> Path:
        """Where Herald's package is assembled for a project that installs it (herald.package.assemble_package)."""
        return self.warehouse_dir / "dbt" / "herald_package"

    @property
    def marts_dir(self) -> Path:
        """Herald's marts, whose YAML holds the contracts audiences compile against."""
        return self.dbt_package_dir / _PACKAGE_MODELS / "marts"

    @property
    def delivery_models_dir(self) -> Path:
        """The delivery models (dbt writes them to the delivery-runs file)."""
        return self.marts_dir / "deliveries"

    @property
    def delivery_models_selector(self) -> str:
        """dbt's selector for the delivery models: by their fully qualified name, which names the package's nodes
        from either layout (a path selector only reaches the root project's files)."""
        return "herald.marts.deliveries"

    @property
    def seeds_dir(self) -> Path:
        """Herald's seeds: ``reference/`` (every engine loads them) and ``demo/`` (``herald demo``)."""
        return self.dbt_package_dir / "seeds"

    @property
    def reference_seeds_dir(self) -> Path:
        return self.seeds_dir / "reference"

    @property
    def demo_seeds_dir(self) -> Path:
        return self.seeds_dir / "demo"

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


def is_project(folder: Path) -> bool:
    """True for a folder with ``herald.yml``, or (written before settings existed) Herald's own dbt project."""
    return (folder / SETTINGS_FILE).is_file() or is_herald_package(folder)


def find_project(start: Path | None = None) -> Project:
    """The project at ``HERALD_HOME``, or the nearest folder above ``start`` (default: cwd) with herald.yml."""
    home = os.environ.get("HERALD_HOME")
    if home:
        root = Path(home).resolve()
        if not is_project(root):
            raise ConfigError(f"HERALD_HOME={home} has no {SETTINGS_FILE}: `herald init {home}` makes a project")
    else:
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / SETTINGS_FILE).is_file():
                root = candidate
                break
        else:
            raise ConfigError(
                f"no {SETTINGS_FILE} in {here} or above: run Herald inside a project, set HERALD_HOME, "
                "or make one with `herald init PATH`"
            )
    return project_at(root)


def project_at(root: Path) -> Project:
    """The project whose root is ``root``, as its settings (and ``HERALD_WAREHOUSE_DIR``) place it."""
    settings = read_settings(root)
    wh = os.environ.get("HERALD_WAREHOUSE_DIR")
    warehouse_dir = Path(wh).resolve() if wh else root / settings.state_dir
    landing = None if settings.landing_dir is None else root / settings.landing_dir
    package = None if is_herald_package(root) else herald_dbt_package()
    return Project(
        root=root,
        warehouse_dir=warehouse_dir,
        landing=None if landing == warehouse_dir / "landing" else landing,
        package=package,
    )
