"""Where Herald's dbt package is: in an installed wheel, or in a checkout of Herald.

The package is the folder holding Herald's ``dbt_project.yml`` (dbt project ``herald``) and, beside it, what a
project reads from Herald rather than owning: ``dbt_project/`` (models, macros, tests), ``seeds/reference`` (every
engine loads them), ``seeds/demo`` and ``specs/`` (the demo, for ``herald demo`` and ``herald init --demo``).

    installed wheel     site-packages/herald/_package/     copied there when the wheel is built (setup.py)
    checkout            the repository root                 an editable install, or the repository itself

A project of its own installs the package through its ``packages.yml`` (``local:`` the path in
``HERALD_DBT_PACKAGE``, which Herald sets whenever it runs dbt, to the package assembled for that project by
``assemble_package``), so upgrading Herald upgrades the models.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from herald.errors import ConfigError

PACKAGE_NAME = "herald"
PACKAGE_ENV = "HERALD_DBT_PACKAGE"
BUNDLED_DIR = "_package"
# A checkout's own audience models: the demo project's, never part of the package a project installs.
CHECKOUT_GENERATED_DIR = Path("dbt_project/models/marts/audiences/generated")


def herald_dbt_package() -> Path:
    """The folder of Herald's dbt package: the wheel's copy, else the checkout Herald runs from."""
    here = Path(__file__).resolve().parent
    for candidate in (here / BUNDLED_DIR, here.parent):
        if is_herald_package(candidate):
            return candidate
    raise ConfigError(
        f"Herald's dbt package is missing from this installation (looked in {here / BUNDLED_DIR} and "
        f"{here.parent}): reinstall herald"
    )


def is_herald_package(folder: Path) -> bool:
    """True when ``folder`` holds Herald's own dbt project (its dbt_project.yml names the project ``herald``)."""
    return dbt_project_name(folder) == PACKAGE_NAME and (folder / "dbt_project").is_dir()


def dbt_project_name(folder: Path) -> str | None:
    """The ``name`` in ``folder/dbt_project.yml``, or None when there is no readable one."""
    try:
        doc = yaml.safe_load((folder / "dbt_project.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    name = doc.get("name") if isinstance(doc, dict) else None
    return str(name) if name is not None else None


def demo_specs_dir() -> Path:
    """The demo's specs, which ``herald init --demo`` copies into a new project."""
    return herald_dbt_package() / "specs"


def assemble_package(staging: Path, generated: Path) -> Path:
    """The dbt package a project installs (its ``packages.yml``), assembled in ``staging``: Herald's package with
    the project's generated audience models (the files of ``generated``) in the place of a checkout's own.

    The generated models so belong to the package ``herald``, like the marts that ref them: they call Herald's
    macros by name, and the package's YAML (the memberships' contract) describes them. The folders are real and
    the files links (dbt does not descend into linked folders); only what differs changes, so a dbt process
    reading the package never finds a file missing."""
    package = herald_dbt_package()
    links: dict[Path, Path] = {}
    for top in _PACKAGE_ENTRIES:
        source = package / top
        if source.is_file():
            links[Path(top)] = source
        for path in sorted(source.rglob("*")) if source.is_dir() else []:
            relative = path.relative_to(package)
            if (
                path.is_file()
                and not relative.is_relative_to(CHECKOUT_GENERATED_DIR)
                and "__pycache__" not in relative.parts
            ):
                links[relative] = path
    for path in sorted(generated.glob("*")) if generated.is_dir() else []:
        if path.is_file():
            links[CHECKOUT_GENERATED_DIR / path.name] = path
    _sync_links(staging, links)
    return staging


# What dbt reads of Herald's package (its dbt_project.yml: model, macro, test and seed paths).
_PACKAGE_ENTRIES = ("dbt_project.yml", "dbt_project", "seeds")


def _sync_links(staging: Path, links: dict[Path, Path]) -> None:
    """Make ``staging`` hold exactly ``links`` (relative path → file it links to), in real folders."""
    staging.mkdir(parents=True, exist_ok=True)
    for path in sorted(staging.rglob("*"), reverse=True):  # children before their folders
        relative = path.relative_to(staging)
        if path.is_symlink() or path.is_file():
            if relative not in links or not path.is_symlink() or path.readlink() != links[relative]:
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for relative, target in links.items():
        link = staging / relative
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(target)
