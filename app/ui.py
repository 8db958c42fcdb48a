"""Pieces every page shares: the published-build sidebar, the no-warehouse message, empty-aware charts, channel
names, and panels that follow a background job."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

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

CHANNEL_LABELS: Mapping[str, str] = {
    "email": "Email", "sms": "SMS", "push": "Push", "in_app": "In-app", "direct_mail": "Direct mail",
}  # fmt: skip
POLL_SECONDS = 2

OptionsT = TypeVar("OptionsT", bound=ChartOptions)
StateT = TypeVar("StateT", bound="JobState")

# Every ASCII punctuation character can be backslash-escaped in CommonMark.
_MARKDOWN_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")


def plain(text: str) -> str:
    """``text`` escaped so markdown shows it literally: no link syntax, emphasis, LaTeX or HTML from data or input."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def channel_label(channel: str) -> str:
    """A channel as people name it ("SMS", "In-app")."""
    return CHANNEL_LABELS.get(channel, channel)


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


def count_column(label: str) -> ColumnConfig:
    """A column of counts, with thousands separators."""
    return st.column_config.NumberColumn(label, format="localized")


def share_column(label: str = "Share") -> ColumnConfig:
    """A column of shares in % (0–100), drawn as bars."""
    return st.column_config.ProgressColumn(label, format="%.1f%%", min_value=0, max_value=100)


def percent(value: object) -> str:
    """A fraction (0–1) as a percentage for a metric tile; — when there is no denominator."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{float(value):.1%}"  # type: ignore[arg-type]


class JobState(Protocol):
    """Where a background job stands: ``"running"`` while its process works."""

    @property
    def state(self) -> str: ...


def job_panel(
    key: str, read: Callable[[], StateT], show: Callable[[StateT], None], on_done: Callable[[], None] | None = None
) -> None:
    """``show(read())`` in a fragment that reruns every few seconds while the job runs. When it stops, the whole
    page reruns once (after ``on_done``): a finished job changes what the page shows (a new published file, a
    report, a status). ``key`` remembers across reruns whether the panel was polling."""
    polling = read().state == "running"
    st.session_state[key] = polling

    @st.fragment(run_every=POLL_SECONDS if polling else None)
    def panel() -> None:
        state = read()
        if st.session_state.get(key) and state.state != "running":
            st.session_state[key] = False
            if on_done is not None:
                on_done()
            st.rerun()
        show(state)

    panel()
