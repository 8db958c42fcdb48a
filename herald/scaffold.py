"""``herald init``: a new project the user owns, over Herald installed as a package.

    my_project/
    ├── herald.yml          settings: warehouse target, state and landing folders, provider variables by name
    ├── README.md           how to run it
    ├── .gitignore          the state folder and dbt's own
    ├── specs/              everything the team authors (audiences, plans, templates, ...), one README each
    ├── dbt_project.yml     the project's own dbt project (``profile: herald``)
    ├── packages.yml        Herald's models as the dbt package ``herald``, from the installed Herald
    ├── profiles.yml        DuckDB (embedded) and PostgreSQL connections
    ├── macros/herald.sql   dbt's naming rules as Herald's models need them
    ├── models/             the team's own models, which may ref() Herald's marts
    └── generated/          what Herald writes: audiences/, the dbt models compiled from specs/audiences/

``packages.yml`` names the package through ``HERALD_DBT_PACKAGE``, which Herald sets when it runs dbt: upgrading
Herald upgrades the models, with no edit here. With ``demo=True`` the specs are the demo's (``herald demo`` then
lands the demo data and builds).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from herald.demo import DemoShift, move_demo_specs
from herald.errors import ConfigError
from herald.generate.seeds import DEMO_END_DATE
from herald.package import PACKAGE_ENV, PACKAGE_NAME, demo_specs_dir
from herald.project import project_at
from herald.settings import SETTINGS_FILE

# Each folder of specs/, with what goes in it (its README's first line).
SPEC_FOLDERS: dict[str, str] = {
    "audiences": "Audiences: one YAML file per audience (who), compiled to SQL and to a dbt model.",
    "plans": "Plans: programs, campaigns and their deliveries (what goes to whom, when, on which channel).",
    "templates": "Message templates: one folder per template (template.yml, body.html, body.txt), plus layouts.",
    "typologies": "Typologies: the business rules a delivery is prepared with (consent, quarantine, fatigue).",
    "workflows": "Workflows: imports, builds, audiences and deliveries chained and started by `herald run`.",
    "forms": "Subscription forms served by `herald serve` at /forms/<name>, with double opt-in.",
    "journeys": "Journeys: multi-step series per profile (a welcome series), run by a workflow.",
    "transactional": "Transactional messages sent at once by `POST /messages/<event>` on `herald serve`.",
    "imports": "Column mappings for `herald import --mapping`.",
}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# What a new folder may already hold: a checkout's or an editor's traces, nothing of a project.
_HARMLESS = frozenset({".git", ".gitignore", ".DS_Store", ".idea", ".vscode"})


@dataclass(frozen=True, slots=True)
class Scaffold:
    """A project just written: its root, its dbt project's name and the files written (relative to the root)."""

    root: Path
    name: str
    files: tuple[Path, ...]


def project_name(folder: Path) -> str:
    """The dbt project name for ``folder``: its name in lower case, with ``_`` for anything else."""
    name = re.sub(r"[^a-z0-9_]+", "_", folder.name.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"project_{name}".rstrip("_")
    return name


def init_project(path: Path, *, demo: bool = False, name: str | None = None) -> Scaffold:
    """Write a new project at ``path`` (created if missing; refused unless empty). ``name`` is its dbt project
    name (default: from the folder's name); ``demo`` copies the demo's specs instead of empty folders."""
    root = path.resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{path} is a file, not a folder")
    if root.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.name not in _HARMLESS)
        if present:
            shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
            raise ConfigError(f"{path} is not empty ({shown}): `herald init` writes a new project into an empty folder")
    name = name or project_name(root)
    if not _NAME.fullmatch(name) or name == PACKAGE_NAME:
        raise ConfigError(
            f"project name {name!r}: use lower-case letters, digits and _, starting with a letter, "
            f"and not {PACKAGE_NAME!r} (Herald's own package has that name)"
        )
    files: dict[Path, str] = {
        Path(SETTINGS_FILE): SETTINGS_TEMPLATE,
        Path("README.md"): README_TEMPLATE.replace("{name}", name).replace("{demo}", DEMO_NOTE if demo else ""),
        Path(".gitignore"): GITIGNORE,
        Path("dbt_project.yml"): DBT_PROJECT_TEMPLATE.replace("{name}", name),
        Path("packages.yml"): PACKAGES_TEMPLATE,
        Path("profiles.yml"): PROFILES_TEMPLATE,
        Path("macros/herald.sql"): MACROS_TEMPLATE,
        Path("models/README.md"): MODELS_README,
        Path("generated/README.md"): GENERATED_README,
    }
    if not demo:
        files.update({Path("specs") / f / "README.md": f"# specs/{f}/\n\n{text}\n" for f, text in SPEC_FOLDERS.items()})
    files[Path("specs/README.md")] = SPECS_README
    root.mkdir(parents=True, exist_ok=True)
    written = _copy_demo_specs(root) if demo else set()
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    written |= set(files)
    return Scaffold(root=root, name=name, files=tuple(sorted(written)))


def _copy_demo_specs(root: Path) -> set[Path]:
    specs = root / "specs"
    shutil.copytree(demo_specs_dir(), specs, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    for folder in SPEC_FOLDERS:
        (specs / folder).mkdir(exist_ok=True)
    # The demo's dated specs in the seeds' calendar, whatever a `herald demo` in the checkout they came from did
    # to them: `herald demo` in the new project moves them with the data it lands.
    move_demo_specs(project_at(root), DemoShift(0, DEMO_END_DATE + dt.timedelta(days=1)))
    return {p.relative_to(root) for p in specs.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------------------- templates

SETTINGS_TEMPLATE = """\
# Herald's settings for this project. Every key is optional; these are the defaults.
warehouse:
  # Where dbt builds the models: duckdb (embedded, one file, nothing to run) or postgres (see profiles.yml and
  # README.md: dbt builds there; Herald's own commands read the DuckDB warehouse).
  target: duckdb
  # Herald's state: build files, published copies, the send ledger, locks. Relative to this file, or absolute.
  state_dir: warehouse
  # Where raw batches land (imports, the demo, provider events). May be a shared folder.
  landing_dir: warehouse/landing
providers:
  # The NAMES of the environment variables that hold each credential: never put a secret in this file.
  # Name your own variables if you like (e.g. ACME_SENDGRID_KEY); Herald reads the value from them.
  sendgrid:
    api_key_env: SENDGRID_API_KEY
  twilio:
    account_sid_env: TWILIO_ACCOUNT_SID
    auth_token_env: TWILIO_AUTH_TOKEN
  fcm:
    project_id_env: HERALD_FCM_PROJECT_ID
    access_token_env: HERALD_FCM_ACCESS_TOKEN
"""

DBT_PROJECT_TEMPLATE = """\
# This project's dbt project. Herald's models (staging → intermediate → marts) come in as the package `herald`
# (packages.yml); yours go in models/, and may ref() Herald's marts. The audience models Herald compiles from
# specs/audiences/ into generated/audiences/ are built as part of that package.
name: {name}
version: "1.0.0"
config-version: 2
profile: herald

model-paths: ["models"]
macro-paths: ["macros"]
test-paths: ["tests"]
seed-paths: ["seeds"]
analysis-paths: ["analyses"]
snapshot-paths: ["snapshots"]
clean-targets: ["target", "dbt_packages"]

flags:
  send_anonymous_usage_stats: false

# Herald's knobs keep the defaults its package's dbt_project.yml lists, unless set here for every model, e.g.
#   vars: {engagement_window_days: 60, soft_bounce_quarantine_threshold: 3}
# Tables of your own in place of landed files: vars `herald_sources` (Herald's docs/your-tables.md).
vars: {}

# Configure your own models here, under this project's name, e.g.
#   models:
#     {name}:
#       +materialized: table
"""

PACKAGES_TEMPLATE = f"""\
# Herald's models, macros and tests, from the Herald installed beside this project: Herald sets
# {PACKAGE_ENV} whenever it runs dbt (`herald build`), so upgrading Herald needs no edit here.
packages:
  - local: "{{{{ env_var('{PACKAGE_ENV}') }}}}"
"""

PROFILES_TEMPLATE = """\
# dbt connections. DuckDB is the embedded default; every value can be set from the environment, and Herald sets
# the paths below when it runs dbt. Pick the target in herald.yml (warehouse.target).
herald:
  target: "{{ env_var('HERALD_TARGET', 'duckdb') }}"
  outputs:
    duckdb:
      type: duckdb
      path: "{{ env_var('HERALD_BUILD_PATH', 'warehouse/build/herald.duckdb') }}"
      schema: main
      config_options:
        storage_compatibility_version: latest
      # The delivery runs live in a file of their own, so preparing one republishes a small file.
      attach:
        - path: "{{ env_var('HERALD_DELIVERIES_PATH', 'warehouse/build/deliveries.duckdb') }}"
          alias: deliveries
      threads: 2
      retries:
        connect_attempts: 10
    postgres:
      type: postgres
      host: "{{ env_var('HERALD_PG_HOST', '127.0.0.1') }}"
      port: "{{ env_var('HERALD_PG_PORT', '5432') | int }}"
      user: "{{ env_var('HERALD_PG_USER', 'postgres') }}"
      password: "{{ env_var('HERALD_PG_PASSWORD', '') }}"
      dbname: "{{ env_var('HERALD_PG_DBNAME', 'herald') }}"
      schema: "{{ env_var('HERALD_PG_SCHEMA', 'herald') }}"
      threads: 2
"""

MACROS_TEMPLATE = """\
{#-
    dbt takes a model's database name from the root project only: this keeps Herald's rule (on DuckDB the
    delivery runs go to their own file; elsewhere one database) for Herald's models.
-#}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {{ herald.generate_database_name(custom_database_name, node) }}
{%- endmacro %}
"""

MODELS_README = """\
# models/

Your own dbt models. They may `ref()` any of Herald's marts (`profiles`, `orders`, `messages`, ...) and audiences
(`aud_<name>`, `audience_memberships`): Herald's models come in as the dbt package `herald`.
"""

GENERATED_README = """\
# generated/

What Herald writes, never edited by hand: `audiences/` holds the dbt models compiled from `specs/audiences/`
(`herald build` and `herald audience generate` rewrite them). dbt builds them as part of Herald's package, so
Herald's marts read them. Commit them: a change to an audience spec shows up as a change to its SQL.
"""

SPECS_README = """\
# specs/

Everything your team authors, as reviewable, versioned files: one folder per kind, each with a README. Herald
reads them on every command; `herald build` compiles the audiences into dbt models.
"""

GITIGNORE = """\
# Herald's state (herald.yml: warehouse.state_dir) and dbt's own folders.
/warehouse/
/target/
/logs/
/dbt_packages/
package-lock.yml
"""

DEMO_NOTE = """
This project holds the demo's specs. `herald demo` lands the demo marketing database (moved so that its newest
data is yesterday) and builds; then try `herald audience count winter_sale_test` and
`herald prepare winter_sale_email`.
"""

README_TEMPLATE = """\
# {name}

A [Herald](https://pypi.org/project/herald/) project: campaign orchestration over your own warehouse.
{demo}
## Run it

```bash
pip install herald                    # once per machine or virtualenv; `pip install -U herald` upgrades
herald build                          # build the warehouse with dbt and publish it
herald status                         # what is published, what has landed since
herald import profiles contacts.csv   # land your data (also: consents, orders, order_lines, payments)
herald audience count NAME            # count an audience of specs/audiences/ live
herald prepare DELIVERY               # a frozen send list of a delivery in specs/plans/
herald approve RUN_ID --by NAME       # the approval a send needs
herald send RUN_ID                    # send it, exactly once
```

Run every command from this folder (or set `HERALD_HOME` to it).

## What is where

| where | what |
|---|---|
| `herald.yml` | settings: warehouse target, state and landing folders, which environment variables hold credentials |
| `specs/` | everything you author: audiences, plans, templates, typologies, workflows, forms, journeys |
| `models/` | your own dbt models, which may `ref()` Herald's marts |
| `generated/audiences/` | the dbt models Herald compiles from `specs/audiences/` on every build: commit, never edit |
| `dbt_project.yml`, `packages.yml`, `profiles.yml` | your dbt project; Herald's models are its package `herald` |
| `warehouse/` | state (git-ignored): landing batches, build files, published warehouses, the send ledger |

Credentials live in environment variables only (`herald.yml` names them): `SENDGRID_API_KEY` for email, and the
others listed there.

## Upgrading Herald

`pip install -U herald`, then `herald build`: Herald's models are read from the installed package, so nothing in
this folder changes.

## Running dbt yourself

`herald dbt ARGS` runs dbt in this project with the environment Herald's models need (e.g.
`herald dbt ls --select herald.marts`).
"""
