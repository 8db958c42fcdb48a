"""Herald installed from its wheel runs a project of the user's own, end to end, reading nothing of this checkout.

The wheel is built from a copy of the files it is built from (an in-tree build would write ``build/`` and
``*.egg-info`` into the checkout others work in), installed into a fresh virtual environment with its dependencies
from the package index (or pip's cache), and every command then runs as a user runs it: the installed ``herald``
command, the current folder in the new project, no ``HERALD_HOME``. The send goes to the strict fake SendGrid
(``tests/fakes/sendgrid.py``), running in this process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.sendgrid import FakeSendGrid

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from (pyproject.toml's packages and setup.py's dbt package).
WHEEL_SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "dbt_project.yml",
    "dbt_project",
    "seeds",
    "specs",
    "herald",
    "app",
    "senders",
    "orchestration",
)
API_KEY = "SG.installed-wheel-test-key"
# Variables of this test session that would point Herald back at the checkout or change how it runs.
_UNSET = ("HERALD_HOME", "HERALD_WAREHOUSE_DIR", "PYTHONPATH", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR", "VIRTUAL_ENV")


@dataclass(frozen=True)
class Installed:
    """A virtual environment with Herald installed from its wheel."""

    venv: Path

    @property
    def herald(self) -> str:
        return str(self.venv / "bin" / "herald")

    def run(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if k not in _UNSET}
        # One dbt process per command, as a user's shell runs it (the suite's warm helper is the suite's).
        base.update({"HERALD_WARM_DBT": "0", "PATH": f"{self.venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"})
        done = subprocess.run(
            [self.herald, *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=1500
        )
        assert done.returncode == 0, f"herald {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "logs", "dbt_packages")
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignored)
        else:
            shutil.copyfile(ROOT / name, source / name)
    wheels = work / "dist"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)], check=True, timeout=600)
    (wheel,) = wheels.glob("herald-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True, env=env, timeout=1200
    )
    yield Installed(venv)


def test_a_project_of_its_own_runs_from_the_installed_wheel(installed: Installed, tmp_path: Path) -> None:
    where = installed.venv / "bin" / "python"
    module = subprocess.run(
        [str(where), "-c", "import herald, herald.package as p; print(herald.__file__); print(p.herald_dbt_package())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in _UNSET},
    ).stdout.split()
    for path in module:
        assert not Path(path).resolve().is_relative_to(ROOT), f"{path} is read from the checkout"
        assert Path(path).resolve().is_relative_to(installed.venv.resolve())

    installed.run(["init", "shop", "--demo"], cwd=tmp_path)
    project = tmp_path / "shop"
    assert (project / "herald.yml").is_file() and (project / "specs/audiences/winter_sale_test.yml").is_file()

    demo = installed.run(["demo"], cwd=project)
    assert "Published build" in demo.stdout
    assert (project / "generated/audiences/aud_winter_sale_test.sql").is_file()
    package = (project / "dbt_packages" / "herald").resolve()
    assert package == (project / "warehouse/dbt/herald_package").resolve()
    # Herald's models come from the installed wheel, the audience models from the project.
    assert (package / "dbt_project.yml").resolve().is_relative_to(installed.venv.resolve())
    generated = package / "dbt_project/models/marts/audiences/generated/aud_winter_sale_test.sql"
    assert generated.resolve() == (project / "generated/audiences/aud_winter_sale_test.sql").resolve()

    count = installed.run(["audience", "count", "winter_sale_test"], cwd=project)
    assert count.stdout.startswith("winter_sale_test: ") and " members (build " in count.stdout

    prepared = installed.run(["prepare", "winter_sale_email"], cwd=project)
    run_id = prepared.stdout.split()[2]
    assert run_id.endswith("-winter_sale_email"), prepared.stdout
    to_send = int(prepared.stdout.split("to send ")[1].split()[0].replace(",", ""))
    seeds = int(prepared.stdout.split(" seeds ")[1].split()[0])
    assert to_send > 0

    installed.run(["approve", run_id, "--by", "anna"], cwd=project)
    with FakeSendGrid(api_key=API_KEY) as fake:
        sent = installed.run(
            ["send", run_id],
            cwd=project,
            env={
                "SENDGRID_API_KEY": API_KEY,
                "HERALD_SENDGRID_HOST": fake.url,
                "HERALD_LINK_SECRET": "link-secret-for-tests",
                "HERALD_PUBLIC_URL": "https://links.shop.example",
                "HERALD_UNSUBSCRIBE_MAILTO": "unsubscribe@shop.example",
            },
        )
        assert f"{to_send + seeds} sent now" in sent.stdout, sent.stdout
        assert len(fake.accepted_ids()) == to_send + seeds
        assert fake.duplicates() == {}
        assert fake.invalid_requests() == []
