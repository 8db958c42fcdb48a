"""`herald audience list | count | sql | generate`: the same compiler and counts the app shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from herald.audiences.library import AudienceLibrary
from herald.audiences.live import open_live
from herald.cli import main
from herald.project import Project
from tests.conftest import ROOT


@pytest.fixture
def on_demo(demo_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("HERALD_HOME", str(ROOT))
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(demo_project.warehouse_dir))
    return demo_project


def test_count_prints_the_live_count_per_group(on_demo: Project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = AudienceLibrary.of(on_demo).get("winter_sale_test")
    with open_live(on_demo) as live:
        count = live.count(spec)
    assert main(["audience", "count", "winter_sale_test"]) == 0
    out = capsys.readouterr().out
    assert f"winter_sale_test: {count.total:,} members" in out
    for group, n in count.groups:
        assert f"  {group}: {n:,}" in out


def test_count_a_file_that_is_not_saved(on_demo: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "germany.yml"
    path.write_text("name: germany\nwhere:\n  country_code: DE\n", encoding="utf-8")
    assert main(["audience", "count", str(path)]) == 0
    assert capsys.readouterr().out.startswith("germany: ")


def test_an_invalid_file_exits_2_naming_the_condition(
    on_demo: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("name: broken\nwhere:\n  all:\n  - country_code: DE\n  - lifetime_value: {gt: lots}\n")
    assert main(["audience", "count", str(path)]) == 2
    err = capsys.readouterr().err
    assert "condition where.all[1].lifetime_value: lifetime_value is number; 'lots' is not a number" in err


def test_sql_shows_each_dialect(on_demo: Project, capsys: pytest.CaptureFixture[str]) -> None:
    # Spam reports within a year: a window the profile rollup does not hold, so a subquery with an interval.
    assert main(["audience", "sql", "recent_complainers", "--dialect", "postgres"]) == 0
    postgres = capsys.readouterr().out
    assert main(["audience", "sql", "recent_complainers", "--dialect", "spark"]) == 0
    spark = capsys.readouterr().out
    assert "INTERVAL '365 DAY'" in postgres and "INTERVAL '365' DAY" in spark
    # Product views within 90 days: read from the rollup, the same column in every dialect.
    assert main(["audience", "sql", "engaged_newsletter_readers", "--dialect", "spark"]) == 0
    assert "product_view_event_count_90_days >= 2" in capsys.readouterr().out


def test_list_shows_every_saved_audience_as_built(on_demo: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audience", "list"]) == 0
    out = capsys.readouterr().out
    header, *lines = out.splitlines()
    members = header.index("MEMBERS") + len("MEMBERS")
    build = header.index("BUILD")
    for name in AudienceLibrary.of(on_demo).names():
        line = next(ln for ln in lines if ln.startswith(name + " "))
        assert re.fullmatch(r"[\d,]+", line[:members].split()[-1]), line
        assert line[build:].split()[0].strip(), line


def test_generate_check_passes_on_the_repository(on_demo: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audience", "generate", "--check"]) == 0
    assert "match their specs" in capsys.readouterr().out


def test_unknown_audience_suggests_names(on_demo: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audience", "count", "recent_buyer"]) == 1
    assert "Did you mean recent_buyers" in capsys.readouterr().err
