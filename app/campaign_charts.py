"""The campaign pages' charts: the calendar of campaigns and deliveries, and a run's exclusion waterfall.

Both are layered charts with a band per row (``alt.Step``), so they set their own look rather than
``app.charts``'s single-chart theme. Builders never query: they only shape a frame a data function returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import pandas as pd

from app.charts import ChartOptions
from herald import clock
from herald.campaigns.status import Status

# Fixed colours so a status means the same colour on every chart.
STATUS_COLOURS: Mapping[Status, str] = {
    "draft": "#9e9e9e",
    "prepared": "#1565c0",
    "blocked": "#c62828",
    "approved": "#2e7d32",
    "outdated": "#ef6c00",
    "sending": "#6a1b9a",
    "sent": "#37474f",
    "cancelled": "#bdbdbd",
}
WATERFALL_COLOURS = {"audience": "#1565c0", "exclusion": "#c62828", "control": "#757575", "send": "#2e7d32"}


def _scale(colours: Mapping[Any, str]) -> alt.Scale:
    return alt.Scale(domain=list(colours), range=list(colours.values()))


def _finished(layers: list[alt.Chart], options: ChartOptions, band: int) -> alt.LayerChart:
    chart: alt.LayerChart = (
        alt.layer(*layers)
        .properties(
            title=alt.Title(options.title, subtitle=options.subtitle or "", anchor="start"),
            # A band per row: a fixed pixel height collapses charts with a discrete axis in Streamlit 1.67.
            height=alt.Step(band),
        )
        .configure_legend(orient="bottom")
        .configure_view(strokeWidth=0)
    )
    return chart


def timeline_chart(bars: pd.DataFrame, marks: pd.DataFrame, options: ChartOptions) -> alt.LayerChart:
    """Campaigns as bars over their dates, scheduled deliveries as marks coloured by status, today as a rule."""
    # One row per campaign (its dates) followed by one row per scheduled delivery of it.
    names: list[str] = []
    for campaign in dict.fromkeys([*bars["campaign"], *marks["campaign"]]):
        names += [campaign, *marks.loc[marks["campaign"] == campaign, "row"]]
    y = alt.Y("row:N", title=None, sort=names, axis=alt.Axis(labelLimit=260))
    layers: list[alt.Chart] = []
    if not bars.empty:
        layers.append(
            alt.Chart(bars)
            .mark_bar(color="#bbdefb", cornerRadius=3, height=22)
            .encode(
                x=alt.X("start:T", title=None, axis=alt.Axis(format="%d %b %Y")),
                x2="end:T",
                y=y,
                tooltip=[
                    alt.Tooltip("campaign:N", title="Campaign"),
                    alt.Tooltip("program:N", title="Program"),
                    alt.Tooltip("start:T", title="Starts", format="%Y-%m-%d"),
                    alt.Tooltip("owner:N", title="Owner"),
                    alt.Tooltip("budget:Q", title="Budget", format=",.0f"),
                ],
            )
        )
    if not marks.empty:
        layers.append(
            alt.Chart(marks)
            .mark_point(filled=True, size=160, opacity=1)
            .encode(
                x=alt.X("at:T", title=None),
                y=y,
                color=alt.Color("status:N", title="Status", scale=_scale(STATUS_COLOURS)),
                shape=alt.Shape("channel:N", title="Channel"),
                tooltip=[
                    alt.Tooltip("delivery:N", title="Delivery"),
                    alt.Tooltip("at:T", title="Scheduled (local time)", format="%Y-%m-%d %H:%M"),
                    alt.Tooltip("channel:N", title="Channel"),
                    alt.Tooltip("status:N", title="Status"),
                ],
            )
        )
    today = pd.DataFrame({"today": [pd.Timestamp(clock.today())]})
    layers.append(alt.Chart(today).mark_rule(color="#c62828", strokeDash=[4, 3]).encode(x="today:T"))
    return _finished(layers, options, band=44)


def waterfall_chart(frame: pd.DataFrame, options: ChartOptions) -> alt.LayerChart:
    """A run's steps (``app.data.campaigns.waterfall_frame``) as bars from ``start`` to ``end``, labelled."""
    base = alt.Chart(frame).encode(y=alt.Y("step:N", sort=list(frame["step"]), title=None))
    bars = base.mark_bar(height=24).encode(
        x=alt.X("start:Q", title="Members"),
        x2="end:Q",
        color=alt.Color("kind:N", legend=None, scale=_scale(WATERFALL_COLOURS)),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("members:Q", title="Members", format=","),
            alt.Tooltip("reasons:N", title="Reasons"),
        ],
    )
    labels = base.mark_text(align="left", dx=4, fontSize=12).encode(x="end:Q", text=alt.Text("members:Q", format=","))
    return _finished([bars, labels], options, band=34)
