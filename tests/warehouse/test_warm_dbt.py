"""dbt forked from a warm helper behaves as the dbt command: output, exit code, environment, isolation."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from herald import warm_dbt
from herald.build import run_dbt
from herald.errors import BuildError
from herald.project import Project


def _output(project: Project, args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    run_dbt(project, args)
    return capsys.readouterr().out


@pytest.mark.parametrize("warm", [False, True], ids=["command", "warm"])
def test_both_ways_give_dbt_its_environment_and_report_failures(
    project: Project, warm: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(warm_dbt.ENV_FLAG, "1" if warm else "0")
    project.ensure_dirs()
    # dbt reads its profiles folder from the environment Herald gives it.
    assert str(project.root) in _output(project, ["debug", "--config-dir"], capsys)
    with pytest.raises(BuildError, match=r"exit 2\).*\n.*No such option '--no-such-flag'"):
        run_dbt(project, ["run", "--no-such-flag"], quiet=True)


def test_the_helper_is_reused_replaced_when_gone_and_never_shared_at_once(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(warm_dbt.ENV_FLAG, "1")
    project.ensure_dirs()
    _output(project, ["--version"], capsys)
    helper = warm_dbt._helper
    assert helper is not None and helper.alive()
    _output(project, ["--version"], capsys)
    assert warm_dbt._helper is helper, "a second command reuses the warm helper"

    helper.proc.kill()
    helper.proc.wait()
    assert "installed" in _output(project, ["--version"], capsys), "a new helper replaces one that died"
    assert warm_dbt._helper is not helper and warm_dbt._helper is not None and warm_dbt._helper.alive()

    # Two commands at once: one forks from the helper, the other runs as a plain command; both complete.
    outputs: list[str] = []

    def one() -> None:
        lines: list[str] = []
        code = warm_dbt.run(["debug", "--config-dir"], _env(project), project.root, lines.append, os.environ)
        if code is None:  # the helper was busy
            run_dbt(project, ["debug", "--config-dir"], quiet=True)
            lines.append(str(project.root))
        outputs.append("".join(lines))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outputs) == 2 and all(str(project.root) in out for out in outputs)


def test_a_command_runs_in_the_working_directory_and_environment_it_is_given(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "cwd"
    marker.mkdir()
    lines: list[str] = []
    env = {**_env(project), "DBT_PROFILES_DIR": str(marker)}
    code = warm_dbt.run(["debug", "--config-dir"], env, marker, lines.append, os.environ)
    assert code == 0
    assert str(marker) in "".join(lines)
    assert os.getcwd() != str(marker), "the helper's child changes its own directory, not this process's"


def _env(project: Project) -> dict[str, str]:
    from herald.build import dbt_env

    return dbt_env(project)
