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


# Report charts. The funnel's stages keep their order and colour on every report.
FUNNEL_COLOURS = {
    "targeted": "#90a4ae",
    "sent": "#5c6bc0",
    "delivered": "#1565c0",
    "opened": "#00897b",
    "clicked": "#2e7d32",
    "converted": "#f9a825",
}


def funnel(table: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    """Horizontal bars of ``messages`` per ``stage`` in funnel order, labelled with ``share`` of the first stage."""
    order = [s for s in FUNNEL_COLOURS if s in set(table["stage"])] + [
        s for s in table["stage"] if s not in FUNNEL_COLOURS
    ]
    first = float(table["messages"].iloc[0]) if len(table) else 0.0
    shaped = table.assign(share=table["messages"] / first if first else 0.0)
    base = alt.Chart(shaped).encode(
        y=alt.Y("stage:N", title="Stage", sort=order),
        x=alt.X("messages:Q", title="Messages"),
        tooltip=[
            alt.Tooltip("stage:N", title="Stage"),
            alt.Tooltip("messages:Q", title="Messages", format=","),
            alt.Tooltip("share:Q", title="Of the first stage", format=".1%"),
        ],
    )
    bars = base.mark_bar().encode(color=alt.Color("stage:N", scale=_scale(FUNNEL_COLOURS), legend=None))
    labels = base.mark_text(align="left", dx=4, fontSize=FONT_SIZE - 1).encode(text=alt.Text("share:Q", format=".1%"))
    return _themed(alt.layer(bars, labels), options, bars=True)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SeriesOptions(ChartOptions):
    """A chart of ``y`` against ``x``, one colour per ``colour`` value when given; titles for each field."""

    x: str = "day"
    y: str = "messages"
    colour: str | None = None
    x_title: str = "Day"
    y_title: str = "Messages"
    colour_title: str = ""
    percent: bool = False  # y is a percentage (0–100)


def _series_tooltip(options: SeriesOptions, x_type: str) -> list[alt.Tooltip]:
    tips = [
        alt.Tooltip(f"{options.x}:{x_type}", title=options.x_title),
        alt.Tooltip(f"{options.y}:Q", title=options.y_title, format=".1f" if options.percent else ","),
    ]
    if options.colour:
        tips.insert(1, alt.Tooltip(f"{options.colour}:N", title=options.colour_title or options.colour))
    return tips


def trend(table: pd.DataFrame, options: SeriesOptions) -> alt.Chart:
    """Lines of ``y`` over the date ``x``, one line per ``colour`` value, with points for hover."""
    encoding: dict[str, object] = {
        "x": alt.X(f"{options.x}:T", title=options.x_title),
        "y": alt.Y(f"{options.y}:Q", title=options.y_title),
        "tooltip": _series_tooltip(options, "T"),
    }
    if options.colour:
        encoding["color"] = alt.Color(f"{options.colour}:N", title=options.colour_title or options.colour)
    chart = alt.Chart(table).mark_line(point=True).encode(**encoding)
    return _themed(chart, options)


def compare(table: pd.DataFrame, options: SeriesOptions) -> alt.Chart:
    """Horizontal bars of ``y`` per category ``x`` (largest first), grouped by ``colour`` when given."""
    encoding: dict[str, object] = {
        "y": alt.Y(f"{options.x}:N", title=options.x_title, sort="-x"),
        "x": alt.X(f"{options.y}:Q", title=options.y_title),
        "tooltip": _series_tooltip(options, "N"),
    }
    if options.colour:
        encoding["color"] = alt.Color(f"{options.colour}:N", title=options.colour_title or options.colour)
        encoding["yOffset"] = alt.YOffset(f"{options.colour}:N")
    chart = alt.Chart(table).mark_bar().encode(**encoding)
    return _themed(chart, options, bars=True)


def waterfall(table: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    """The exclusion waterfall: from the audience, each rule's ``profiles`` removed in order, down to the target.

    ``table`` has ``step`` (in order), ``profiles`` and ``kind`` (``start``, ``excluded`` or ``end``); excluded
    steps float between the running totals before and after them.
    """
    remaining = 0
    starts, ends = [], []
    for kind, n in zip(table["kind"], table["profiles"], strict=True):
        if kind == "excluded":
            starts.append(remaining)
            remaining -= int(n)
            ends.append(remaining)
        else:
            remaining = int(n)
            starts.append(0)
            ends.append(remaining)
    shaped = table.assign(start=starts, end=ends)
    colours = {"start": "#1565c0", "excluded": "#c62828", "end": "#2e7d32"}
    chart = (
        alt.Chart(shaped)
        .mark_bar()
        .encode(
            y=alt.Y("step:N", title="Step", sort=list(table["step"])),
            x=alt.X("start:Q", title="Profiles"),
            x2="end:Q",
            color=alt.Color("kind:N", title="", scale=_scale(colours)),
            tooltip=[alt.Tooltip("step:N", title="Step"), alt.Tooltip("profiles:Q", title="Profiles", format=",")],
        )
    )
    return _themed(chart, options, bars=True)
