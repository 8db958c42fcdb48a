"""The CLI is thin, and every command explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from herald.cli import build_parser, main


def _commands() -> list[list[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = [[n] for n in sub.choices if n != "dev"]  # type: ignore[union-attr]
    return [*names, ["dev", "render-dbt-yaml"]]


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out, f"`herald {' '.join(command)} --help` shows no example"


def test_console_script_is_installed() -> None:
    proc = subprocess.run([sys.executable, "-m", "herald.cli", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "herald import profiles FILE" in proc.stdout


def test_unknown_table_export_fails_clearly_without_a_warehouse(project, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(project.warehouse_dir))
    code = main(["export", "profiles", "--out", str(project.warehouse_dir / "x.csv")])
    assert code == 1
    assert "no published warehouse" in capsys.readouterr().err


def test_import_offers_every_import_kind() -> None:
    from herald.importing.kinds import KINDS

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    import_parser = sub.choices["import"]  # type: ignore[index]
    kind = next(a for a in import_parser._actions if a.dest == "kind")
    assert tuple(kind.choices) == KINDS


def test_workflow_import_activities_offer_every_import_kind() -> None:
    from herald.importing.kinds import KINDS
    from orchestration.spec import IMPORT_KINDS

    assert IMPORT_KINDS == KINDS
