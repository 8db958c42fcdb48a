"""The report pages (Delivery report, Campaign reports, Explore), run headlessly with AppTest.

Every figure a page shows is checked against the engagement marts of the session's demo warehouse (whose
campaigns come from the imported message history). Run-level sections — the exclusion waterfall, control-group
lift and A/B results — need a prepared, sent run: one test adds such a run's mart rows to a private copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from app.data import reports as data
from herald.warehouse import deliveries_path

APP = Path(__file__).resolve().parents[2] / "app" / "views"
DELIVERY = str(APP / "reports_delivery.py")
OVERVIEW = str(APP / "reports_overview.py")
EXPLORE = str(APP / "reports_explore.py")

pytestmark = [
    pytest.mark.filterwarnings("ignore:fetch_arrow_table\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
]


def _run(path: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=90).run()
    assert not at.exception, at.exception
    return at


def _chart_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("vega_lite_chart"):
        spec: dict[str, Any] = json.loads(chart.proto.spec)
        titles.append(spec.get("title", {}).get("text", ""))
    return titles


def _funnel_rows(at: AppTest) -> list[tuple[str, int]]:
    """The (stage, messages) rows the first chart (the funnel) draws."""
    chart = at.get("vega_lite_chart")[0]
    (frame,) = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
    return [(str(r.stage), int(r.messages)) for r in frame.itertuples()]


def _metric(at: AppTest, label: str) -> str:
    return str(next(m.value for m in at.metric if m.label == label))


def test_delivery_report_shows_the_latest_campaign_with_its_funnel(app_env) -> None:  # type: ignore[no-untyped-def]
    latest = app_env.rows(
        "select campaign_id, sent_count, delivered_count, unique_open_count, unique_click_count, open_rate "
        "from campaign_metrics order by last_sent_at desc nulls last, campaign_id limit 1"
    )[0]
    at = _run(DELIVERY)
    assert at.selectbox(key="rpt_campaign").value == latest[0]
    assert _metric(at, "Sent") == f"{latest[1]:,}"
    assert _metric(at, "Unique opens") == f"{latest[5]:.1%}"
    assert _chart_titles(at)[:2] == ["Funnel", "Activity over time"]
    assert _funnel_rows(at) == [
        ("sent", latest[1]),
        ("delivered", latest[2]),
        ("opened", latest[3]),
        ("clicked", latest[4]),
    ]
    # Every table has its CSV download: daily figures, top links, recipient domains.
    assert len(at.get("download_button")) == 3


def test_picking_another_campaign_shows_its_figures(app_env) -> None:  # type: ignore[no-untyped-def]
    campaign_id, sent, name = app_env.rows(
        "select campaign_id, sent_count, campaign_name from campaign_metrics "
        "order by sent_count asc, campaign_id limit 1"
    )[0]
    at = _run(DELIVERY)
    at.selectbox(key="rpt_campaign").set_value(campaign_id).run()
    assert not at.exception
    assert _metric(at, "Sent") == f"{sent:,}"
    links = app_env.value("select count(distinct link) from link_performance where campaign_id = ?", [campaign_id])
    shown = at.dataframe[1].value  # daily, links, domains
    assert len(shown) == min(links, data.TOP_ROWS), name


def test_a_run_shows_its_waterfall_lift_and_ab_winner(own_warehouse) -> None:  # type: ignore[no-untyped-def]
    campaign_id = own_warehouse.value("select campaign_id from campaign_metrics order by campaign_id limit 1")
    con = duckdb.connect(str(own_warehouse.path))
    # The delivery runs' tables live in the published build's second file (herald/build.py).
    con.execute(f"attach '{deliveries_path(own_warehouse.path)}' as deliveries")
    try:
        con.execute(
            "insert into delivery_metrics (run_id, delivery_id, campaign_id, program_id, channel, targeted_count, "
            "sent_count, delivered_count, unique_open_count, unique_click_count, open_rate, prepared_at) "
            "values ('run-1', 'd1', ?, 'p1', 'email', 1000, 900, 880, 300, 90, 300.0 / 880, now())",
            [campaign_id],
        )
        con.execute(
            "insert into deliveries.exclusion_waterfall (exclusion_waterfall_id, run_id, delivery_id, step, "
            "step_order, removed_count, remaining_count) values "
            "('w1', 'run-1', 'd1', 'audience', 1, 0, 1200), ('w2', 'run-1', 'd1', 'no consent', 2, 150, 1050), "
            "('w3', 'run-1', 'd1', 'control group', 3, 50, 1000)"
        )
        con.execute(
            "insert into delivery_control_lift (run_id, delivery_id, campaign_id, conversion_window_days, "
            "target_size, target_conversions, control_size, control_conversions, target_conversion_rate, "
            "control_conversion_rate, lift, lift_ci_lower, lift_ci_upper, is_significant, is_window_complete) "
            "values ('run-1', 'd1', ?, 7, 1000, 80, 50, 2, 0.08, 0.04, 0.04, 0.01, 0.07, true, true)",
            [campaign_id],
        )
        con.execute(
            "insert into delivery_ab_results (ab_result_id, run_id, delivery_id, metric, variant, winner_variant, "
            "successes, trials, rate, variant_rank, is_significant, is_winner) values "
            "('a', 'run-1', 'd1', 'clicks', 'A', 'B', 40, 450, 0.089, 2, true, false), "
            "('b', 'run-1', 'd1', 'clicks', 'B', 'B', 50, 430, 0.116, 1, true, true)"
        )
    finally:
        con.close()
    at = _run(DELIVERY)
    at.selectbox(key="rpt_campaign").set_value(campaign_id).run()
    at.selectbox(key="rpt_run").set_value("run-1").run()
    assert not at.exception, at.exception
    assert _metric(at, "Sent") == "900"
    titles = _chart_titles(at)
    assert "Exclusion waterfall" in titles
    assert _funnel_rows(at)[0] == ("targeted", 1000)
    text = " ".join(m.value for m in at.markdown)
    assert "Control-group lift" in text and "8.0%" in text and "1.0% to 7.0%" in text and "significant" in text
    assert "winner **B**" in text


def test_campaign_reports_compare_channels_and_list_every_campaign(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _run(OVERVIEW)
    titles = _chart_titles(at)
    assert titles[:2] == ["Channel comparison", "Opens and clicks by campaign"]
    assert "Bounces by type and classification" in titles
    campaigns = app_env.value("select count(*) from campaign_metrics")
    channels = app_env.value("select count(*) from channel_metrics")
    tables = {len(df.value) for df in at.dataframe}
    assert campaigns in tables and channels in tables
    assert len(at.get("download_button")) == len(at.dataframe)


def test_explore_pivots_measures_by_the_chosen_dimension(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _run(EXPLORE)
    at.multiselect(key="exp_rows").set_value(["channel"]).run()
    at.multiselect(key="exp_measures").set_value(["sent", "open_rate"]).run()
    assert not at.exception, at.exception
    expected = {
        channel: (sent, rate)
        for channel, sent, rate in app_env.rows(
            "select coalesce(channel, '(none)'), sum(is_sent::int), "
            "100.0 * sum(is_opened::int) / nullif(sum(is_delivered::int), 0) from message_outcomes group by 1"
        )
    }
    table = at.dataframe[0].value
    shown = {r["Channel"]: (r["Sent"], r["Open rate % (of delivered)"]) for r in table.to_dict("records")}
    assert shown.keys() == expected.keys()
    for channel, (sent, rate) in expected.items():
        assert shown[channel][0] == sent
        assert shown[channel][1] == pytest.approx(rate, nan_ok=True)
    assert _chart_titles(at) == ["Sent by Channel"]


def test_explore_crosses_two_dimensions_into_columns(app_env) -> None:  # type: ignore[no-untyped-def]
    at = _run(EXPLORE)
    at.multiselect(key="exp_rows").set_value(["sent_at"]).run()
    at.selectbox(key="exp_col").set_value("channel").run()
    at.radio(key="exp_grain").set_value("month").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    months = app_env.value("select count(distinct date_trunc('month', sent_at)) from message_outcomes")
    assert len(table) == months
    assert any(c == "Messages · email" for c in table.columns), table.columns
