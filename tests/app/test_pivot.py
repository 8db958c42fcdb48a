"""The dynamic report's pivot: catalogue keys only, ratios over explicit denominators, stable shapes."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from app.data.pivot import Dimension, Measure, PivotError, PivotRequest, ReportSource, run_pivot, to_wide

SOURCE = ReportSource(
    key="messages",
    label="Messages",
    table="facts",
    grain="one row per message",
    dimensions=(
        Dimension("channel", "Channel", "channel"),
        Dimension("sent", "Sent", "sent_at", date=True),
        Dimension("domain", "Domain", "email_domain"),
    ),
    measures=(
        Measure("messages", "Messages"),
        Measure("opened", "Opened", "sum", "is_opened"),
        Measure("open_rate", "Open rate", "sum", "is_opened", per="messages", percent=True),
        Measure("profiles", "Profiles", "count_distinct", "profile_id"),
    ),
)


@pytest.fixture
def facts() -> ibis.Table:
    return ibis.memtable(
        pd.DataFrame(
            {
                "channel": ["email", "email", "email", "sms", None],
                "sent_at": pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-13", "2026-01-05", "2026-01-07"]),
                "is_opened": [True, False, True, True, False],
                "profile_id": ["p1", "p1", "p2", "p3", "p4"],
            }
        )
    )


def test_measures_and_rates_per_dimension(facts: ibis.Table) -> None:
    source = SOURCE.restricted_to(facts.columns)
    out = run_pivot(facts, source, PivotRequest("messages", ("channel",), ("opened", "open_rate", "profiles")))
    rows = {r["channel"]: r for r in out.to_dict("records")}
    assert rows["email"]["opened"] == 2
    assert rows["email"]["open_rate"] == pytest.approx(200 / 3)
    assert rows["email"]["profiles"] == 2
    assert rows["(none)"]["open_rate"] == 0  # a missing channel is its own labelled category, not dropped
    assert "messages" not in out.columns  # a ratio's denominator is computed, not shown unless asked for


def test_dates_at_a_grain_and_a_column_dimension(facts: ibis.Table) -> None:
    source = SOURCE.restricted_to(facts.columns)
    request = PivotRequest("messages", ("sent",), ("messages",), columns="channel", grain="week")
    long = run_pivot(facts, source, request)
    assert sorted(str(d)[:10] for d in long["sent"].unique()) == ["2026-01-05", "2026-01-12"]
    wide = to_wide(long, request)
    first_week = wide[wide["sent"].astype(str).str.startswith("2026-01-05")].iloc[0]
    assert first_week["messages · email"] == 2
    assert first_week["messages · sms"] == 1


def test_the_catalogue_follows_the_published_columns(facts: ibis.Table) -> None:
    source = SOURCE.restricted_to(facts.columns)
    assert [d.key for d in source.dimensions] == ["channel", "sent"]  # no email_domain column: not offered
    with pytest.raises(PivotError, match="no dimension 'domain'"):
        run_pivot(facts, source, PivotRequest("messages", ("domain",), ("messages",)))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PivotRequest("messages", (), ("messages",)), "at least one dimension"),
        (PivotRequest("messages", ("channel",), ()), "at least one measure"),
        (PivotRequest("messages", ("channel",), ("messages",), columns="channel"), "used once"),
        (PivotRequest("messages", ("channel",), ("1; drop table facts",)), "no measure"),
    ],
)
def test_bad_requests_say_what_is_wrong(facts: ibis.Table, request_: PivotRequest, message: str) -> None:
    with pytest.raises(PivotError, match=message):
        run_pivot(facts, SOURCE.restricted_to(facts.columns), request_)
