"""Explore: a dynamic report — pick a source, dimensions and measures; get a pivot, a chart and a CSV."""

from __future__ import annotations

from typing import cast

import streamlit as st

from app import charts
from app.data import pivot as engine
from app.data import reports as data
from app.ui import chart_or_note, plain, require_warehouse, table_with_csv


def main() -> None:
    st.title("Explore")
    db = require_warehouse()
    sources = {s.key: s for s in data.SOURCES}
    key = st.segmented_control(
        "Source", list(sources), format_func=lambda k: sources[k].label, default="messages", key="exp_source"
    )
    source = sources[str(key or "messages")].restricted_to(engine.columns_of(db, sources[str(key or "messages")].table))
    if not source.dimensions or not source.measures:
        st.info("This source is not in the published build yet: run `herald build`.")
        return
    st.caption(plain(f"{source.label}: {source.grain}."))
    dims = {d.key: d.label for d in source.dimensions}
    measures = {m.key: m.label for m in source.measures}
    a, b, c = st.columns([2, 1, 2])
    rows = a.multiselect("Rows", list(dims), default=[next(iter(dims))], format_func=lambda k: dims[k], key="exp_rows")
    column = b.selectbox("Columns", [None, *dims], format_func=lambda k: "—" if k is None else dims[k], key="exp_col")
    picked = c.multiselect(
        "Measures", list(measures), default=list(measures)[:2], format_func=lambda k: measures[k], key="exp_measures"
    )
    grain = st.radio("Dates by", ["day", "week", "month"], index=1, horizontal=True, key="exp_grain")
    request = engine.PivotRequest(
        source=source.key,
        rows=tuple(rows),
        measures=tuple(picked),
        columns=column,
        grain=cast(engine.Grain, grain),
    )
    try:
        long = engine.pivot(db, source, request)
    except engine.PivotError as exc:
        st.warning(plain(str(exc)), icon=":material/info:")
        return
    first, measure = request.rows[0], request.measures[0]
    shown = engine.top_categories(long, first, measure) if not source.dimension(first).date else long
    options = charts.SeriesOptions(
        f"{measures[measure]} by {dims[first]}",
        x=first,
        y=measure,
        colour=column,
        x_title=dims[first],
        y_title=measures[measure],
        colour_title=dims[column] if column else "",
        percent=source.measure(measure).percent,
    )
    if len(request.rows) == 1:
        build = charts.trend if source.dimension(first).date else charts.compare
        chart_or_note(build, shown, options, "No rows for this choice.")
    else:
        st.caption("The chart shows the first row dimension; the table has them all.")
    wide = engine.to_wide(long, request)
    for key in request.rows:
        if source.dimension(key).date:
            wide[key] = wide[key].astype("datetime64[s]").dt.date  # a date, not a midnight timestamp
    labels = {**dims, **measures}
    wide.columns = [" · ".join(labels.get(part, part) for part in str(c).split(" · ")) for c in wide.columns]
    table_with_csv(wide, name=f"explore_{source.key}", key="exp_csv")


main()
