"""The wheel carries Herald's dbt package, which lives outside every Python package of this repository.

``build_py`` copies it into ``herald/_package/`` of the build (``herald.package.herald_dbt_package`` finds it
there): ``dbt_project.yml``, ``dbt_project/`` without this repository's own generated audience models (a project
generates its own), the reference and demo seeds and the demo's specs. An editable install copies nothing: the
checkout is the package. Everything else is configured in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = Path("herald") / "_package"
FILES = ("dbt_project.yml",)
FOLDERS = ("dbt_project", "seeds/reference", "seeds/demo", "specs")
LEFT_OUT = ("dbt_project/models/marts/audiences/generated",)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "logs", "dbt_packages", ".*")


class BuildPyWithDbtPackage(build_py):
    """build_py, then Herald's dbt package copied beside the Python code."""

    def run(self) -> None:
        editable = getattr(self, "editable_mode", False)
        if not editable:
            # A module deleted from the sources must not live on in a wheel built from a reused build folder.
            for package in {name.split(".")[0] for name in self.packages or ()}:
                shutil.rmtree(Path(self.build_lib) / package, ignore_errors=True)
        super().run()
        if editable:
            return
        target = Path(self.build_lib) / BUNDLED
        for name in FILES:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, target / name)
        for name in FOLDERS:
            shutil.copytree(ROOT / name, target / name, ignore=IGNORED)
        for name in LEFT_OUT:
            shutil.rmtree(target / name, ignore_errors=True)


setup(cmdclass={"build_py": BuildPyWithDbtPackage})
