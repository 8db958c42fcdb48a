"""Pieces every page shares: the published-build sidebar, the no-warehouse message, empty-aware charts."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import TypeVar

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from app.charts import ChartOptions
from app.data.warehouse import Missing, build_info, current_warehouse

NO_WAREHOUSE_HELP = (
    "Nothing has been published yet. Run `make demo` to load the demo data and build it, "
    "or `herald build` after importing your own data; then reload this page."
)

OptionsT = TypeVar("OptionsT", bound=ChartOptions)

# Every ASCII punctuation character can be backslash-escaped in CommonMark.
_MARKDOWN_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")


def plain(text: str) -> str:
    """``text`` escaped so markdown shows it literally: no link syntax, emphasis, LaTeX or HTML from data or input."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def require_warehouse() -> str:
    """The published file to read; when there is none, explain how to make one and stop the page here."""
    db = current_warehouse()
    if isinstance(db, Missing):
        st.info(NO_WAREHOUSE_HELP, icon=":material/database:")
        st.caption(db.reason)
        st.stop()
    return db


def build_sidebar() -> None:
    """Which published build the app is showing (from ``herald_meta.build_info``)."""
    st.markdown("**Published build**")
    db = current_warehouse()
    if isinstance(db, Missing):
        st.caption("None yet: run `make demo` or `herald build`.")
        return
    info = build_info(db)
    if info is None:
        st.caption(f"`{db.rsplit('/', 1)[-1]}` (no build record)")
        return
    lines = [f"Build `{info.build_id}`"]
    if info.batch_cutoff:
        lines.append(f"Data up to batch `{info.batch_cutoff}`")
    if info.published_at is not None:
        lines.append(f"Published {info.published_at:%Y-%m-%d %H:%M} UTC")
    st.caption("  \n".join(lines))


def chart_or_note(
    build: Callable[[pd.DataFrame, OptionsT], alt.Chart], table: pd.DataFrame, options: OptionsT, empty: str
) -> None:
    """Show ``build(table, options)``, or a short note when there is nothing to draw."""
    if table.empty:
        st.markdown(f"**{options.title}**")
        st.caption(empty)
        return
    st.altair_chart(build(table, options), width="stretch")


def table_with_csv(
    frame: pd.DataFrame, *, name: str, key: str, column_config: Mapping[str, ColumnConfig] | None = None
) -> None:
    """Show ``frame`` and a button that downloads exactly it as ``<name>.csv`` (every report table has one)."""
    st.dataframe(frame, hide_index=True, width="stretch", column_config=dict(column_config or {}))
    st.download_button(
        "Download CSV",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
    )


def percent(value: object) -> str:
    """A fraction (0–1) as a percentage for a metric tile; — when there is no denominator."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{float(value):.1%}"  # type: ignore[arg-type]
