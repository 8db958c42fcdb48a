"""Altair chart builders: small typed functions ``(table, options) -> alt.Chart`` sharing one theme.

The theme is applied last by ``_themed`` so every chart gets the same title style, labelled axes and
readable font sizes. Builders never query: they only shape a frame a data function returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

FONT_SIZE = 13
BAR_STEP = 26  # pixels per bar when the height follows the number of categories
DEFAULT_HEIGHT = 300
# Fixed colours so a status means the same colour on every chart and every page.
CONSENT_COLOURS = {"opted in": "#2e7d32", "opted out": "#c62828", "no record": "#9e9e9e"}
QUARANTINE_COLOURS = {"quarantined": "#ef6c00", "denylisted": "#b71c1c"}
TIMELINE_COLOURS = {"behaviour": "#1565c0", "order": "#2e7d32", "message": "#ef6c00"}


@dataclass(frozen=True, slots=True)
class ChartOptions:
    """Presentation choices common to every chart: a title, an optional subtitle and a height in pixels.

    Without a height, bar charts give each bar a fixed band so every category label stays readable.
    """

    title: str
    subtitle: str | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class TopOptions(ChartOptions):
    """A ranked bar chart that keeps only the ``top`` largest categories."""

    top: int = 15


def _title(options: ChartOptions) -> alt.Title:
    return alt.Title(options.title, subtitle=options.subtitle or "", anchor="start")


def _themed(chart: alt.Chart, options: ChartOptions, *, bars: bool = False) -> alt.Chart:
    """Apply the shared theme: title, size and readable axes and legends. ``bars``: one band per category."""
    height: int | alt.Step = options.height or (alt.Step(BAR_STEP) if bars else DEFAULT_HEIGHT)
    themed: alt.Chart = (
        chart.properties(title=_title(options), height=height)
        .configure_axis(labelFontSize=FONT_SIZE - 1, titleFontSize=FONT_SIZE, labelLimit=220)
        .configure_legend(labelFontSize=FONT_SIZE - 1, titleFontSize=FONT_SIZE, orient="bottom")
        .configure_title(fontSize=FONT_SIZE + 3, subtitleFontSize=FONT_SIZE - 1)
        .configure_view(strokeWidth=0)
    )
    return themed


def _scale(colours: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colours), range=list(colours.values()))


def profiles_by_country(table: pd.DataFrame, options: TopOptions) -> alt.Chart:
    """Horizontal bars of ``profiles`` per ``country_code``, the ``options.top`` largest countries."""
    top = table.nlargest(options.top, "profiles")
    chart = (
        alt.Chart(top)
        .mark_bar()
        .encode(
            x=alt.X("profiles:Q", title="Profiles"),
            y=alt.Y("country_code:N", title="Country", sort="-x"),
            tooltip=[alt.Tooltip("country_code:N", title="Country"), alt.Tooltip("profiles:Q", title="Profiles")],
        )
    )
    return _themed(chart, options, bars=True)


def consent_by_channel(table: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    """Stacked bars per ``channel`` of ``profiles`` by ``consent`` (opted in / opted out / no record)."""
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("profiles:Q", title="Profiles", stack="zero"),
            y=alt.Y("channel:N", title="Channel"),
            color=alt.Color("consent:N", title="Consent", scale=_scale(CONSENT_COLOURS)),
            order=alt.Order("consent:N", sort="descending"),
            tooltip=[
                alt.Tooltip("channel:N", title="Channel"),
                alt.Tooltip("consent:N", title="Consent"),
                alt.Tooltip("profiles:Q", title="Profiles", format=","),
            ],
        )
    )
    return _themed(chart, options, bars=True)


def quarantine_reasons(table: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    """Bars of ``addresses`` per channel and ``quarantine_reason``, coloured by ``quarantine_status``."""
    # One bar per "channel · reason" rather than a faceted chart: facets cannot stretch to the container width.
    labelled = table.assign(label=table["channel"].astype(str) + " · " + table["quarantine_reason"].astype(str))
    chart = (
        alt.Chart(labelled)
        .mark_bar()
        .encode(
            x=alt.X("addresses:Q", title="Addresses", stack="zero"),
            y=alt.Y("label:N", title="Channel · reason", sort="-x"),
            color=alt.Color("quarantine_status:N", title="Status", scale=_scale(QUARANTINE_COLOURS)),
            tooltip=[
                alt.Tooltip("channel:N", title="Channel"),
                alt.Tooltip("quarantine_status:N", title="Status"),
                alt.Tooltip("quarantine_reason:N", title="Reason"),
                alt.Tooltip("addresses:Q", title="Addresses", format=","),
            ],
        )
    )
    return _themed(chart, options, bars=True)


def rfm_segments(table: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    """Horizontal bars of ``profiles`` per ``rfm_segment``, with lifetime value in the tooltip."""
    chart = (
        alt.Chart(table)
        .mark_bar()
        .encode(
            x=alt.X("profiles:Q", title="Profiles"),
            y=alt.Y("rfm_segment:N", title="RFM segment", sort="-x"),
            tooltip=[
                alt.Tooltip("rfm_segment:N", title="Segment"),
                alt.Tooltip("profiles:Q", title="Profiles", format=","),
                alt.Tooltip("lifetime_value:Q", title="Lifetime value (EUR)", format=",.0f"),
            ],
        )
    )
    return _themed(chart, options, bars=True)


def profile_timeline(table: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    """One dot per event at ``occurred_at``, a lane per ``source``, coloured by source, typed in the tooltip."""
    chart = (
        alt.Chart(table)
        .mark_circle(size=90, opacity=0.8)
        .encode(
            x=alt.X("occurred_at:T", title="When (UTC)"),
            y=alt.Y("source:N", title="Source", sort=list(TIMELINE_COLOURS)),
            color=alt.Color("source:N", title="Source", scale=_scale(TIMELINE_COLOURS), legend=None),
            tooltip=[
                alt.Tooltip("occurred_at:T", title="When (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("event_type:N", title="Event"),
                alt.Tooltip("detail:N", title="Detail"),
            ],
        )
    )
    return _themed(chart, options)
