"""The Audiences page's live results for the spec being edited: the member count (with the last edit's effect
and the split's groups), a breakdown, a sample of members, reachability, overlap with saved audiences, the SQL
and the spec's YAML."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app import widgets as w
from app.charts import ChartOptions
from app.data import audiences as data
from app.ui import channel_label, chart_or_note, count_column, plain, share_column
from app.views.audience_form import Context
from herald.audiences.compiler import DIALECTS
from herald.audiences.draft_to_spec import Composed, yaml_of
from herald.audiences.drafts import STAND_IN_NAME
from herald.audiences.spec import AudienceSpec, dump_spec
from herald.errors import HeraldError


def _bars(frame: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar(color="#1565c0")
        .encode(
            y=alt.Y("value:N", sort="-x", title=None),
            x=alt.X("members:Q", title="Members"),
            tooltip=[alt.Tooltip("value:N", title="Value"), alt.Tooltip("members:Q", title="Members", format=",")],
        )
        .properties(
            title=alt.Title(options.title, subtitle=options.subtitle or "", anchor="start"), height=alt.Step(24)
        )
        .configure_view(strokeWidth=0)
    )
    return chart


def count(ctx: Context, spec: AudienceSpec | None, evaluation: data.Evaluation | None, yaml_text: str) -> None:
    """The live member count, the change the last edit made, and the split's groups."""
    if spec is None or evaluation is None or evaluation.count is None:
        st.metric("Members", "—", border=True, help="Fix the condition marked in red to see the count.")
        st.error("No count: fix the problem marked in the form.", icon=":material/error:")
        return
    counted = evaluation.count
    # The delta is the change the last edit made, so each condition's effect shows as it is added.
    last = st.session_state.get("aud_last")
    delta = None
    if last is not None and last[0] == yaml_text:
        delta = last[2]
    elif last is not None:
        delta = counted.total - last[1]
    st.session_state["aud_last"] = (yaml_text, counted.total, delta)
    total = data.total_profiles(ctx.db)
    share = counted.total / total if total else 0.0
    st.metric(
        "Members",
        f"{counted.total:,}",
        delta=None if not delta else f"{delta:+,} with the last change",
        delta_color="off",
        border=True,
        help="Profiles matching the audience in the published build, counted live.",
    )
    st.caption(f"{share:.1%} of {total:,} profiles in the published build.")
    if spec.split:
        groups = pd.DataFrame(counted.groups, columns=["group", "members"])
        groups["share"] = groups["members"] / max(counted.total, 1) * 100
        column_config = {
            "group": st.column_config.TextColumn("Group"),
            "members": count_column("Members"),
            "share": share_column(),
        }
        st.dataframe(groups, hide_index=True, column_config=column_config)


def insights(ctx: Context, spec: AudienceSpec, token: str, size: int) -> None:
    """Breakdown, members, reachability and overlap, as tabs."""
    # Only the open tab is computed: each is a query over the whole audience, rerun on every edit.
    breakdown, members, reach, overlap = st.tabs(
        ["Breakdown", "Members", "Reachability", "Overlap"], key="aud_tab", on_change="rerun"
    )
    args = (ctx.db, ctx.project, token, spec)
    if breakdown.open:
        with breakdown:
            kinds = ctx.fields.kinds
            columns = [c for c in kinds if c in ctx.fields.few_values or kinds[c] == "boolean"]
            columns += [c for c in ("engagement_score", "order_count", "recency_score") if c in kinds]
            default = "country_code" if "country_code" in columns else columns[0]
            column = w.select("aud_breakdown", "Break down by", columns, default)
            frame = data.breakdown(*args, column)
            chart_or_note(_bars, frame, ChartOptions(f"Members by {column}", "Largest values first"), "No member.")
    if members.open:
        with members:
            sample = data.sample(*args)
            if sample.empty:
                st.caption("No member.")
            else:
                st.dataframe(sample, hide_index=True)
                st.caption(f"The first {len(sample)} members by profile id.")
    if reach.open:
        with reach:
            _reachability(data.reachability(*args), size)
    if overlap.open:
        with overlap:
            _overlap(data.overlap(*args), size)


def _reachability(frame: pd.DataFrame, size: int) -> None:
    frame["channel"] = frame["channel"].map(channel_label)
    frame["share"] = frame["members"] / max(size, 1) * 100
    column_config = {
        "channel": st.column_config.TextColumn("Channel"),
        "members": count_column("Reachable members"),
        "share": share_column(),
    }
    st.dataframe(frame, hide_index=True, column_config=column_config)
    st.caption("Members with a valid address, consent and no quarantine on each channel.")


def _overlap(shared: pd.DataFrame, size: int) -> None:
    if shared.empty:
        st.caption("No other saved audience to compare with.")
        return
    shared["of_this"] = shared["shared"] / max(size, 1) * 100
    shared["of_theirs"] = shared["shared"] / shared["size"].clip(lower=1) * 100
    st.dataframe(
        shared.sort_values(["shared", "audience"], ascending=[False, True]),
        hide_index=True,
        column_config={
            "audience": st.column_config.TextColumn("Audience"),
            "size": count_column("Its size"),
            "shared": count_column("Shared members"),
            "of_this": st.column_config.ProgressColumn("% of this one", format="%.1f%%", max_value=100),
            "of_theirs": st.column_config.ProgressColumn("% of theirs", format="%.1f%%", max_value=100),
        },
    )


def sql(ctx: Context, spec: AudienceSpec, token: str) -> None:
    """The compiled SQL, in a dialect of the user's choice, behind a toggle."""
    if not st.toggle("Show SQL", key="aud_show_sql"):
        return
    dialect = st.radio("Dialect", DIALECTS, horizontal=True, key="aud_dialect")
    try:
        compiled = data.compiled_sql(ctx.db, ctx.project, token, spec, dialect)
    except HeraldError as exc:
        st.error(plain(str(exc)))
        return
    st.code(compiled, language="sql", wrap_lines=True)


def spec_yaml(spec: AudienceSpec | None, composed: Composed) -> None:
    """The spec's YAML, or what the form says so far when it is not a valid spec yet."""
    with st.expander("Spec (YAML)", icon=":material/description:"):
        if spec is not None:
            st.code(dump_spec(spec), language="yaml")
        else:
            st.caption("Not a valid spec yet; this is what the form says so far.")
            st.code(yaml_of(composed.data), language="yaml")
        if composed.data.get("name") == STAND_IN_NAME:
            st.caption(f"`{STAND_IN_NAME}` stands in for the name until you give one.")
