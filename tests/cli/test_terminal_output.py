"""What a terminal shows: help without reStructuredText markup, and listings under a header aligned with them."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Iterator

import pytest

from herald.campaigns import report
from herald.cli import build_parser, main, terminal_help
from herald.project import Project
from senders import ledger


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command and subcommand under ``parser`` (the top level is the empty path)."""
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


COMMANDS = list(_parsers(build_parser()))


def test_the_walk_reaches_nested_subcommands() -> None:
    assert {("ingest", "events"), ("audience", "list"), ("runs", "check"), ("dev", "render-dbt-yaml")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "herald")
def test_help_shows_no_double_backticks(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out, f"`herald {' '.join(command)} --help` shows reStructuredText markup"
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line == "Example:":
            assert lines[i + 1].startswith("  herald "), (
                f"`herald {' '.join(command)} --help`: the example is not a line"
            )


def test_help_text_keeps_the_quoted_code_and_sets_the_example_apart() -> None:
    rendered = terminal_help(
        """Settle a run's ``unknown`` messages,
        100 % of them. Then more.

        Example: ``herald resolve RUN
        --by anna``"""
    )
    assert rendered["help"] == "Settle a run's unknown messages, 100 %% of them"
    assert rendered["description"] == "Settle a run's unknown messages,\n100 % of them. Then more.\n\nExample:\n" + (
        "  herald resolve RUN --by anna"
    )


def _assert_header_aligned(out: str, first_label: str) -> None:
    """The first line is a header; every row's cells start (text) or end (numbers) where their label does."""
    header, *rows = out.splitlines()
    assert header.startswith(first_label + " "), f"the first line is not the header: {header!r}"
    assert rows
    labels = [(m.start(), m.end()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    for row in rows:
        for start, end in labels:
            cell = row[start:end].strip()
            starts_there = row[start : start + 1].strip() != "" and (start == 0 or row[start - 2 : start] == "  ")
            ends_there = row[end - 1 : end].strip() != "" and row[end : end + 2] in ("  ", "")
            assert starts_there or ends_there or not cell, f"{row!r} is not aligned with {header!r}"


def test_audience_list_prints_a_header_aligned_with_its_columns(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(project.warehouse_dir))  # nothing built: every audience listed
    assert main(["audience", "list"]) == 0
    _assert_header_aligned(capsys.readouterr().out, "NAME")


def test_runs_list_aligns_its_numbers_under_their_labels(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    at = dt.datetime(2026, 12, 3, 8, tzinfo=dt.UTC)

    def run(run_id: str, send: int) -> report.RunSummary:
        return report.RunSummary(run_id, "d", "email", "a", send * 2, send, 12, send + 5, 1, "dg", "ch", at)

    runs = [run("r20261203T080000-winter_sale_email", 1_234_567), run("r20261203T090000-sms", 7)]
    monkeypatch.setattr(report, "list_runs", lambda project, delivery=None: runs)
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    _assert_header_aligned(out, "RUN")
    header, first, second = out.splitlines()
    assert header.index("SEND") + len("SEND") == first.index("1,234,567") + len("1,234,567") == second.index(" 7 ") + 2


def test_ledger_history_prints_a_header_aligned_with_its_columns(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [
        ledger.Entry("m1", "claimed", 1, "r1", at="2026-12-03T08:00:00.000001Z"),
        ledger.Entry("m1", "accepted", 1, "r1", provider_id="sg-abc", at="2026-12-03T08:00:01.5Z"),
        ledger.Entry("m2", "accepted", 1, "r1"),
    ]
    monkeypatch.setattr(ledger, "read_history", lambda project, run: entries)
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(project.warehouse_dir))
    assert main(["ledger", "r1", "--message", "m1"]) == 0
    out = capsys.readouterr().out
    _assert_header_aligned(out, "AT")
    assert len(out.splitlines()) == 3
