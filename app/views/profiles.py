"""Profiles: who is in the warehouse, how reachable they are, and one profile's 360° view."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app import charts
from app.data import profiles as data
from app.ui import chart_or_note, plain, require_warehouse

# Columns of `profiles` shown in the 360° view's "Profile" table, in reading order.
PROFILE_FIELDS = (
    ("external_key", "External key"),
    ("full_name", "Name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("address_line1", "Address"),
    ("address_line2", "Address (2)"),
    ("postal_code", "Postal code"),
    ("city", "City"),
    ("country_code", "Country"),
    ("locale", "Locale"),
    ("time_zone", "Time zone"),
    ("birth_date", "Birth date"),
    ("email_quarantine_status", "Email quarantine"),
    ("email_quarantine_reason", "Quarantine reason"),
    ("rfm_segment", "RFM segment"),
    ("engagement_score", "Engagement score (0–100)"),
    ("lifetime_value", "Lifetime value (EUR)"),
    ("average_order_value", "Average order (EUR)"),
    ("first_order_at", "First order"),
    ("last_order_at", "Last order"),
    ("last_open_at", "Last open"),
    ("last_click_at", "Last click"),
    ("last_seen_at", "Last seen"),
    ("created_at", "Created"),
    ("updated_at", "Updated"),
)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def overview(db: str) -> None:
    totals = data.totals(db)
    cols = st.columns(len(data.CHANNELS) + 1)
    cols[0].metric("Profiles", f"{totals.profiles:,}", border=True)
    for col, (key, label) in zip(cols[1:], data.CHANNELS, strict=True):
        col.metric(
            label,
            f"{dict(totals.reachable)[key]:,}",
            delta=f"{totals.share(key):.1%} reachable",
            delta_color="off",
            delta_arrow="off",
            help=f"Profiles the {label} channel can reach now, and their share of all profiles.",
            border=True,
        )

    left, right = st.columns(2)
    with left:
        chart_or_note(
            charts.profiles_by_country,
            data.profiles_by_country(db),
            charts.TopOptions("Profiles by country", "Largest 15 countries"),
            "No profiles yet.",
        )
        quarantines = data.quarantines(db)
        still = f"{quarantines.still_active:,} more failed but can still be sent to"
        none_blocked = (
            f"No address is quarantined; {quarantines.still_active:,} failed but can still be sent to."
            if quarantines.still_active
            else "No address has failed yet."
        )
        chart_or_note(
            charts.quarantine_reasons,
            quarantines.blocked,
            charts.ChartOptions("Quarantined addresses", f"By channel and reason; {still}"),
            none_blocked,
        )
    with right:
        chart_or_note(
            charts.consent_by_channel,
            data.consent_by_channel(db),
            charts.ChartOptions("Consent by channel", "Profiles opted in on at least one topic, opted out, or unknown"),
            "No consent has been recorded yet.",
        )
        chart_or_note(
            charts.rfm_segments,
            data.rfm_segments(db),
            charts.ChartOptions("RFM segments", "Profiles per recency-frequency-monetary segment"),
            "No profiles yet.",
        )


def data_quality(db: str) -> None:
    """Addresses the email policy refused: the contacts are kept without an email, and listed here to fix."""
    problems = data.email_problems(db)
    st.subheader("Data quality")
    if not problems.contacts:
        st.caption("Every email address in the warehouse passes Herald's email policy.")
        return
    st.metric(
        "Contacts with an unusable email address",
        f"{problems.contacts:,}",
        help="Kept without an email (not reachable by email) until the address is fixed in the source and re-imported.",
        border=True,
    )
    _table(problems.by_problem.rename(columns={"email_problem": "Problem", "contacts": "Contacts"}), "")
    with st.expander(f"Contacts to fix (first {data.EMAIL_PROBLEM_EXAMPLES})"):
        labels = {
            "external_key": "External key",
            "email_as_typed": "Email as typed",
            "email_problem": "Problem",
            "source_file": "File",
            "source_line_number": "Line",
        }
        _table(problems.examples.rename(columns=labels), "")


def search(db: str) -> str | None:
    """The search box and its results; returns the chosen profile id, if any."""
    st.header("Find a profile")
    text = st.text_input(
        "Email or external key",
        key="profile_search",
        placeholder="Part of an email address or external key, e.g. anna@ or C00042",
        max_chars=data.MAX_QUERY_LENGTH,
    )
    needle = data.normalize_query(text)
    if not needle:
        st.caption("Type part of an email address or an external key (merged contacts' keys count too).")
        return None
    results = data.search_profiles(db, needle)
    if results.empty:
        st.info(
            f"No profile has an email or external key containing “{plain(text.strip())}”.", icon=":material/search_off:"
        )
        return None
    more = " (the first ones; refine the search to see others)" if len(results) >= data.SEARCH_LIMIT else ""
    st.caption(f"{len(results)} matching profile{'s' if len(results) != 1 else ''}{more}.")
    labels = {
        row.profile_id: f"{_text(row.email)} · {_text(row.full_name)} · {row.external_key}"
        for row in results.itertuples(index=False)
    }
    chosen: str | None = st.selectbox(
        "Profile", options=list(labels), format_func=labels.__getitem__, key="profile_pick"
    )
    with st.expander("All matches", expanded=False):
        _table(results, "No matches.")
    return chosen


_WORDS = {"id": "ID", "ip": "IP", "eur": "EUR", "url": "URL", "rfm": "RFM"}


def _label(column: str) -> str:
    """A readable header for a mart column: ``is_delivered`` → "Delivered", ``sent_at`` → "Sent at (UTC)"."""
    words = column.removeprefix("is_").split("_")
    text = " ".join(_WORDS.get(w, w) for w in words)
    text = text[:1].upper() + text[1:]
    return f"{text} (UTC)" if column.endswith("_at") else text


def _table(frame: pd.DataFrame, empty: str, columns: list[str] | None = None, *, full: bool = False) -> None:
    if frame.empty:
        st.caption(empty)
        return
    config: dict[str, Any] = {c: st.column_config.Column(_label(str(c))) for c in frame.columns}
    # `full` shows every row without an inner scrollbar: for short key/value tables read top to bottom.
    st.dataframe(
        frame, hide_index=True, column_order=columns, column_config=config, height="content" if full else "auto"
    )


def profile_360(db: str, profile_id: str) -> None:
    view = data.profile_360(db, profile_id)
    if view is None:
        st.warning("This profile is not in the published warehouse any more (a newer build may have merged it).")
        return
    p = view.profile
    st.subheader(plain(f"{_text(p.get('full_name'))} · {_text(p.get('email'))}"))
    cols = st.columns(5)
    cols[0].metric("Orders", f"{len(view.orders):,}")
    cols[1].metric("Lifetime value (EUR)", _text(p.get("lifetime_value")))
    cols[2].metric("Messages received", f"{len(view.messages):,}")
    cols[3].metric("Engagement score", _text(p.get("engagement_score")))
    cols[4].metric("Source contacts", f"{len(view.identities):,}")

    tabs = st.tabs(["Attributes", "Identity", "Consents", "Orders", "Messages", "Timeline", "Devices"])
    with tabs[0]:
        left, right = st.columns(2)
        with left:
            st.markdown("**Profile**")
            fields = pd.DataFrame(
                [(label, _text(p.get(name))) for name, label in PROFILE_FIELDS], columns=["field", "value"]
            )
            _table(fields, "", full=True)
        with right:
            st.markdown("**Reachability**")
            reach = pd.DataFrame(
                [(label, _text(p.get(f"is_{key}_reachable"))) for key, label in data.CHANNELS],
                columns=["channel", "reachable"],
            )
            _table(reach, "")
            st.markdown("**Custom attributes**")
            _table(view.attributes, "No custom attributes.")
    with tabs[1]:
        st.caption("Source contacts merged into this profile; the survivor's data wins.")
        _table(view.identities, "No source contacts.", ["external_key", "match_rule", "is_survivor"])
    with tabs[2]:
        _table(
            view.consents,
            "No consent recorded: this profile has given no consent and withdrawn none.",
            [
                "channel",
                "topic",
                "consent_status",
                "status_since",
                "source",
                "evidence_id",
                "ip_address",
                "last_changed_at",
            ],
        )
    with tabs[3]:
        _table(
            view.orders,
            "No orders.",
            ["order_id", "ordered_at", "status", "sales_channel", "total_amount", "currency", "total_amount_eur"],
        )
        if not view.order_lines.empty:
            st.markdown("**Order lines**")
            _table(
                view.order_lines, "", ["order_id", "product_name", "category", "quantity", "unit_price", "line_amount"]
            )
    with tabs[4]:
        _table(
            view.messages,
            "No message sent to this profile yet.",
            [
                "sent_at",
                "campaign_name",
                "channel",
                "address",
                "is_delivered",
                "open_count",
                "click_count",
                "bounce_type",
                "is_unsubscribed",
                "is_spam_reported",
            ],
        )
        if not view.message_events.empty:
            st.markdown("**Provider events**")
            _table(view.message_events, "")
    with tabs[5]:
        if view.timeline.empty:
            st.caption("No activity recorded for this profile.")
        else:
            st.altair_chart(
                charts.profile_timeline(
                    view.timeline, charts.ChartOptions("Activity over time", "Behaviour, orders and message events")
                ),
                width="stretch",
            )
            _table(view.timeline, "")
    with tabs[6]:
        _table(
            view.devices, "No push device registered.", ["platform", "is_active", "registered_at", "unregistered_at"]
        )


st.title("Profiles")
warehouse = require_warehouse()
overview(warehouse)
data_quality(warehouse)
st.divider()
picked = search(warehouse)
if picked is not None:
    profile_360(warehouse, picked)
