"""Chart builders: every chart carries the shared theme, labelled axes and fixed status colours."""

from __future__ import annotations

from typing import Any

import pandas as pd

from app import charts


def _spec(chart: Any) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    return spec


def _axis_titles(spec: dict[str, Any]) -> set[str]:
    enc = spec["encoding"]
    return {enc[ch]["title"] for ch in ("x", "y") if ch in enc}


def test_profiles_by_country_keeps_the_top_countries_with_titled_axes() -> None:
    table = pd.DataFrame({"country_code": ["FR", "DE", "GB", "ES"], "profiles": [40, 30, 20, 10]})
    spec = _spec(charts.profiles_by_country(table, charts.TopOptions("Profiles by country", top=2)))
    assert spec["title"]["text"] == "Profiles by country"
    assert _axis_titles(spec) == {"Profiles", "Country"}
    (data,) = spec["datasets"].values()
    assert sorted(r["country_code"] for r in data) == ["DE", "FR"]
    assert spec["config"]["axis"]["labelFontSize"] >= 12


def test_consent_colours_mean_the_same_on_every_chart() -> None:
    table = pd.DataFrame(
        {"channel": ["email"] * 3, "consent": ["opted in", "opted out", "no record"], "profiles": [1, 2, 3]}
    )
    spec = _spec(charts.consent_by_channel(table, charts.ChartOptions("Consent by channel")))
    scale = spec["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"], strict=True)) == charts.CONSENT_COLOURS
    assert _axis_titles(spec) == {"Profiles", "Channel"}


def test_quarantine_reasons_label_each_bar_with_channel_and_reason() -> None:
    table = pd.DataFrame(
        {
            "channel": ["email", "sms"],
            "quarantine_status": ["quarantined", "denylisted"],
            "quarantine_reason": ["hard_bounce", "spam_complaint"],
            "addresses": [5, 1],
        }
    )
    spec = _spec(charts.quarantine_reasons(table, charts.ChartOptions("Quarantined addresses", height=200)))
    (data,) = spec["datasets"].values()
    assert [r["label"] for r in data] == ["email · hard_bounce", "sms · spam_complaint"]
    assert spec["height"] == 200


def test_rfm_and_timeline_charts_have_titles_and_axis_titles() -> None:
    rfm = pd.DataFrame({"rfm_segment": ["champions"], "profiles": [3], "lifetime_value": [10.0]})
    timeline = pd.DataFrame(
        {
            "occurred_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "source": ["order", "behaviour"],
            "event_type": ["order completed", "page_view"],
            "detail": ["o1", "/"],
        }
    )
    for chart, axes in [
        (charts.rfm_segments(rfm, charts.ChartOptions("RFM segments")), {"Profiles", "RFM segment"}),
        (charts.profile_timeline(timeline, charts.ChartOptions("Activity")), {"When (UTC)", "Source"}),
    ]:
        spec = _spec(chart)
        assert spec["title"]["text"]
        assert _axis_titles(spec) == axes


def test_funnel_keeps_stage_order_and_labels_shares_of_the_first_stage() -> None:
    table = pd.DataFrame({"stage": ["sent", "delivered", "opened"], "messages": [200, 180, 50]})
    spec = _spec(charts.funnel(table, charts.ChartOptions("Funnel")))
    bars = spec["layer"][0]["encoding"]
    assert bars["y"]["sort"] == ["sent", "delivered", "opened"]
    (data,) = spec["datasets"].values()
    assert [round(r["share"], 2) for r in data] == [1.0, 0.9, 0.25]


def test_waterfall_floats_each_exclusion_between_running_totals() -> None:
    table = pd.DataFrame(
        {
            "step": ["audience", "no consent", "quarantined", "target"],
            "profiles": [100, 30, 5, 65],
            "kind": ["start", "excluded", "excluded", "end"],
        }
    )
    spec = _spec(charts.waterfall(table, charts.ChartOptions("Exclusions")))
    (data,) = spec["datasets"].values()
    assert [(r["start"], r["end"]) for r in data] == [(0, 100), (100, 70), (70, 65), (0, 65)]
    assert _axis_titles(spec) == {"Profiles", "Step"}
