"""``herald init``: the project it writes, the settings it reads back, and what it refuses. No dbt runs here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from herald.build import build, configured_as_of, dbt_env, dbt_files
from herald.cli import main
from herald.errors import ConfigError
from herald.package import (
    CHECKOUT_GENERATED_DIR,
    PACKAGE_ENV,
    assemble_package,
    herald_dbt_package,
    is_herald_package,
)
from herald.project import find_project, project_at
from herald.scaffold import SPEC_FOLDERS, init_project, project_name
from herald.settings import read_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_project_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_HOME", raising=False)
    monkeypatch.delenv("HERALD_WAREHOUSE_DIR", raising=False)


def test_init_writes_a_project_of_its_own(tmp_path: Path) -> None:
    made = init_project(tmp_path / "Acme Campaigns")
    root = made.root
    assert made.name == "acme_campaigns"
    for name in ("herald.yml", "README.md", ".gitignore", "dbt_project.yml", "packages.yml", "profiles.yml"):
        assert (root / name).is_file(), name
    assert (root / "models").is_dir() and (root / "generated" / "README.md").is_file()
    for folder in SPEC_FOLDERS:
        assert (root / "specs" / folder / "README.md").is_file(), folder
    assert not list((root / "specs" / "audiences").glob("*.yml"))

    dbt_project = yaml.safe_load((root / "dbt_project.yml").read_text())
    assert dbt_project["name"] == "acme_campaigns" and dbt_project["profile"] == "herald"
    assert dbt_project["model-paths"] == ["models"]
    packages = yaml.safe_load((root / "packages.yml").read_text())["packages"]
    assert packages == [{"local": "{{ env_var('HERALD_DBT_PACKAGE') }}"}]
    profiles = yaml.safe_load((root / "profiles.yml").read_text())["herald"]
    assert set(profiles["outputs"]) == {"duckdb", "postgres"}

    settings = read_settings(root)
    assert settings.target == "duckdb" and settings.state_dir == Path("warehouse")
    assert settings.landing_dir == Path("warehouse/landing")
    assert settings.providers[("sendgrid", "api_key_env")] == "SENDGRID_API_KEY"
    assert "SENDGRID_API_KEY" not in {k for k in yaml.safe_load((root / "herald.yml").read_text())}

    project = project_at(root)
    assert project.uses_package and project.dbt_package_dir == herald_dbt_package()
    assert project.generated_dir == root / "generated" / "audiences"
    assert project.models_dir == root / "models"
    assert (project.reference_seeds_dir / "exchange_rates.csv").is_file()
    assert project.landing_dir == root / "warehouse" / "landing"
    assert project.delivery_models_dir == herald_dbt_package() / "dbt_project/models/marts/deliveries"
    assert (project.demo_seeds_dir / "import_batches.csv").is_file()


def test_init_demo_copies_the_demo_specs_in_the_seeds_calendar(tmp_path: Path) -> None:
    root = init_project(tmp_path / "demo", demo=True).root
    assert (root / "specs" / "audiences" / "winter_sale_test.yml").is_file()
    assert (root / "specs" / "templates" / "winter_sale_email" / "template.yml").is_file()
    plan = (root / "specs" / "plans" / "winter_2026.yml").read_text()
    # Whatever a `herald demo` in the checkout did to its copy, the new project starts unmoved.
    assert not plan.startswith("# Dates moved")
    assert (root / "specs" / "README.md").read_text() == (
        init_project(tmp_path / "plain").root / "specs/README.md"
    ).read_text()
    assert "herald demo" in (root / "README.md").read_text()


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    with pytest.raises(ConfigError, match=r"not empty \(notes.txt\)"):
        init_project(target)
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]

    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        init_project(tmp_path / "file")

    repository = tmp_path / "fresh"
    (repository / ".git").mkdir(parents=True)
    assert (init_project(repository).root / "herald.yml").is_file()


@pytest.mark.parametrize("name", ["herald", "9lives", "Has-Dash"])
def test_init_refuses_a_name_dbt_or_herald_cannot_take(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="project name"):
        init_project(tmp_path / "p", name=name)
    assert not (tmp_path / "p").exists()


def test_project_names_come_from_the_folder() -> None:
    assert project_name(Path("/x/My Shop-2026")) == "my_shop_2026"
    assert project_name(Path("/x/2026")) == "project_2026"


def test_the_command_needs_no_project_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "shop"]) == 0
    assert "herald build" in capsys.readouterr().out
    assert main(["init", "shop"]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert main(["status"]) == 1
    assert "no herald.yml" in capsys.readouterr().err


def test_commands_find_the_project_above_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = init_project(tmp_path / "shop").root
    (root / "herald.yml").write_text("warehouse:\n  state_dir: /srv/herald/state\n  landing_dir: ../drop\n")
    monkeypatch.chdir(root / "specs" / "audiences")
    project = find_project()
    assert project.root == root
    assert project.warehouse_dir == Path("/srv/herald/state")
    assert project.landing_dir == root / "../drop"

    monkeypatch.setenv("HERALD_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"has no herald\.yml"):
        find_project()


def test_this_repository_is_a_project_whose_dbt_project_is_the_package() -> None:
    project = project_at(ROOT)
    assert (ROOT / "herald.yml").is_file() and is_herald_package(ROOT)
    assert not project.uses_package and project.dbt_package_dir == ROOT
    assert project.generated_dir == ROOT / CHECKOUT_GENERATED_DIR
    assert project.models_dir == ROOT / "dbt_project" / "models"
    assert project.delivery_models_selector == "herald.marts.deliveries"


def test_the_assembled_package_holds_the_projects_generated_models(tmp_path: Path) -> None:
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / "aud_mine.sql").write_text("select 1 as profile_id\n")
    staging = assemble_package(tmp_path / "package", generated)
    package = herald_dbt_package()
    assert (staging / "dbt_project.yml").resolve() == (package / "dbt_project.yml").resolve()
    profiles = staging / "dbt_project/models/marts/profiles"
    assert profiles.is_dir() and not profiles.is_symlink()  # dbt does not descend into linked folders
    assert (staging / "seeds/reference/exchange_rates.csv").is_file()
    linked = sorted(p.name for p in (staging / CHECKOUT_GENERATED_DIR).iterdir())
    assert linked == ["aud_mine.sql"]  # a checkout's own generated models never come along

    (generated / "aud_mine.sql").unlink()
    (generated / "aud_other.sql").write_text("select 2 as profile_id\n")
    assemble_package(staging, generated)
    assert sorted(p.name for p in (staging / CHECKOUT_GENERATED_DIR).iterdir()) == ["aud_other.sql"]


def test_dbt_runs_in_the_project_with_the_package_and_without_named_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = init_project(tmp_path / "shop").root
    (root / "herald.yml").write_text("providers:\n  sendgrid:\n    api_key_env: ACME_SENDGRID_KEY\n")
    (root / "models" / "mine.sql").write_text("select 1 as one\n")
    monkeypatch.setenv("ACME_SENDGRID_KEY", "SG.secret")
    project = project_at(root)
    env = dbt_env(project)
    assert env["DBT_PROJECT_DIR"] == str(root) and env["DBT_PROFILES_DIR"] == str(root)
    assert env[PACKAGE_ENV] == str(project.assembled_package_dir)
    assert "ACME_SENDGRID_KEY" not in env

    names = [name for name, _ in dbt_files(project)]
    assert "models/mine.sql" in names and "packages.yml" in names
    assert "herald/dbt_project.yml" in names
    assert any(n.startswith("herald/dbt_project/models/marts/") for n in names)
    assert not any(n.startswith(f"herald/{CHECKOUT_GENERATED_DIR}") for n in names)


def test_a_past_state_is_set_in_the_projects_own_vars(tmp_path: Path) -> None:
    root = init_project(tmp_path / "shop").root
    dbt_project = root / "dbt_project.yml"
    text = dbt_project.read_text()
    assert configured_as_of(project_at(root)) is None
    dbt_project.write_text(text.replace("vars: {}", 'vars: {as_of: "2026-06-30 00:00:00"}'))
    assert configured_as_of(project_at(root)) == "2026-06-30 00:00:00"
    dbt_project.write_text(text.replace("vars: {}", 'vars: {herald: {as_of: "2026-01-31 00:00:00"}}'))
    assert configured_as_of(project_at(root)) == "2026-01-31 00:00:00"


def test_a_postgres_target_without_a_warehouse_url_says_how_to_build_there(tmp_path: Path) -> None:
    root = init_project(tmp_path / "shop").root
    (root / "herald.yml").write_text("warehouse: {target: postgres}\n")
    with pytest.raises(ConfigError, match="set HERALD_WAREHOUSE_URL to the postgres database"):
        build(project_at(root))
    assert not (root / "warehouse").exists()
