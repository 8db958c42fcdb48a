"""Queries behind the Profiles page: totals, breakdowns, search and one profile's 360° view.

All queries are ibis expressions over the marts documented in docs/marts.md; user input only ever enters
them as a literal value, never as SQL text. Functions are eager (they return pandas frames or values) and
cached per published file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import streamlit as st
from ibis.backends.duckdb import Backend as IbisDuckDB

from app.data.warehouse import CACHE_TTL, read_only

# Reachability flags on `profiles`, in the order the page shows them.
CHANNELS: tuple[tuple[str, str], ...] = (
    ("email", "Email"),
    ("sms", "SMS"),
    ("push", "Push"),
    ("in_app", "In-app"),
    ("direct_mail", "Direct mail"),
)
SEARCH_LIMIT = 50
# An email address has at most 254 characters: longer input cannot match and would only slow the scan.
MAX_QUERY_LENGTH = 254
NO_RECORD = "no record"


@dataclass(frozen=True, slots=True)
class ProfileTotals:
    """Profile count and, per channel key of ``CHANNELS``, how many profiles are reachable."""

    profiles: int
    reachable: tuple[tuple[str, int], ...]

    def share(self, channel: str) -> float:
        """Reachable share of all profiles for ``channel`` (0 when there are no profiles)."""
        count = dict(self.reachable)[channel]
        return count / self.profiles if self.profiles else 0.0


@dataclass(frozen=True, slots=True)
class Profile360:
    """Everything known about one profile, one frame per section (frames may be empty)."""

    profile: dict[str, Any]
    attributes: pd.DataFrame
    identities: pd.DataFrame
    consents: pd.DataFrame
    orders: pd.DataFrame
    order_lines: pd.DataFrame
    messages: pd.DataFrame
    message_events: pd.DataFrame
    devices: pd.DataFrame
    timeline: pd.DataFrame


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def totals(db: str) -> ProfileTotals:
    """How many profiles there are and how many are reachable on each channel."""
    with read_only(db) as con:
        p = con.table("profiles")
        metrics = {"profiles": p.count()}
        for key, _ in CHANNELS:
            metrics[key] = p[f"is_{key}_reachable"].sum().fill_null(0)
        row = p.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    return ProfileTotals(
        profiles=int(row["profiles"]),
        reachable=tuple((key, int(row[key])) for key, _ in CHANNELS),
    )


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def profiles_by_country(db: str) -> pd.DataFrame:
    """Columns ``country_code``, ``profiles``; largest first, unknown countries as ``unknown``."""
    with read_only(db) as con:
        p = con.table("profiles")
        expr = (
            p.group_by(country_code=p.country_code.fill_null("unknown"))
            .aggregate(profiles=p.count())
            .order_by([ibis.desc("profiles"), "country_code"])
        )
        return expr.to_pandas()


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def consent_by_channel(db: str) -> pd.DataFrame:
    """Columns ``channel``, ``consent``, ``profiles``: per channel, profiles opted in, opted out or with no record.

    A profile counts as opted in on a channel when at least one of its topics there is opted in, as opted out
    when it has records on that channel but none opted in.
    """
    with read_only(db) as con:
        c = con.table("profile_consents")
        per_profile = c.group_by(["channel", "profile_id"]).aggregate(any_in=c.is_opted_in.any())
        status = ibis.ifelse(per_profile.any_in, "opted in", "opted out").name("consent")
        counts = per_profile.group_by(["channel", status]).aggregate(profiles=per_profile.count()).to_pandas()
        total = int(con.table("profiles").count().to_pyarrow().as_py())
    recorded = counts.groupby("channel", as_index=False)["profiles"].sum()
    missing = recorded.assign(consent=NO_RECORD, profiles=(total - recorded["profiles"]).clip(lower=0))
    out = pd.concat([counts, missing[["channel", "consent", "profiles"]]], ignore_index=True)
    return out.sort_values(["channel", "consent"], ignore_index=True)


@dataclass(frozen=True, slots=True)
class Quarantines:
    """Addresses that ever failed: counts of the blocked ones by reason, and how many are still sendable."""

    blocked: pd.DataFrame  # channel, quarantine_status, quarantine_reason, addresses (status not `active`)
    still_active: int


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def quarantines(db: str) -> Quarantines:
    """Quarantined and denylisted addresses by channel, status and reason; failed-but-active ones counted apart."""
    with read_only(db) as con:
        q = con.table("address_quarantines")
        failed = q.filter(q.quarantine_status != "active")
        blocked = (
            failed.group_by(
                [
                    "channel",
                    "quarantine_status",
                    failed.quarantine_reason.fill_null("unknown").name("quarantine_reason"),
                ]
            )
            .aggregate(addresses=failed.count())
            .order_by(["channel", ibis.desc("addresses")])
            .to_pandas()
        )
        active = q.filter(q.quarantine_status == "active").count().to_pyarrow().as_py()
    return Quarantines(blocked=blocked, still_active=int(active))


@dataclass(frozen=True, slots=True)
class EmailProblems:
    """Contacts whose address the email policy refuses: how many per problem, and the first rows to fix."""

    by_problem: pd.DataFrame  # email_problem, contacts; most frequent first
    examples: pd.DataFrame  # external_key, email_as_typed, email_problem, source_file, source_line_number

    @property
    def contacts(self) -> int:
        return int(self.by_problem["contacts"].sum()) if len(self.by_problem) else 0


EMAIL_PROBLEM_EXAMPLES = 200


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def email_problems(db: str) -> EmailProblems:
    """Every contact kept without an email because its address was refused (mart ``contact_email_problems``)."""
    with read_only(db) as con:
        t = con.table("contact_email_problems")
        by_problem = (
            t.group_by("email_problem")
            .aggregate(contacts=t.count())
            .order_by([ibis.desc("contacts"), "email_problem"])
            .to_pandas()
        )
        examples = (
            t.select("external_key", "email_as_typed", "email_problem", "source_file", "source_line_number")
            .order_by(["email_problem", "external_key"])
            .limit(EMAIL_PROBLEM_EXAMPLES)
            .to_pandas()
        )
    return EmailProblems(by_problem=by_problem, examples=examples)


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def rfm_segments(db: str) -> pd.DataFrame:
    """Columns ``rfm_segment``, ``profiles``, ``lifetime_value`` (EUR, summed); largest segment first."""
    with read_only(db) as con:
        p = con.table("profiles")
        expr = (
            p.group_by(rfm_segment=p.rfm_segment.fill_null("unscored"))
            .aggregate(profiles=p.count(), lifetime_value=p.lifetime_value.sum().fill_null(0))
            .order_by([ibis.desc("profiles"), "rfm_segment"])
        )
        return expr.to_pandas()


def normalize_query(text: str) -> str:
    """The search text as matched: trimmed, lower-cased and bounded in length."""
    return text.strip().lower()[:MAX_QUERY_LENGTH]


@st.cache_data(ttl=CACHE_TTL, max_entries=64, show_spinner=False)
def search_profiles(db: str, text: str, limit: int = SEARCH_LIMIT) -> pd.DataFrame:
    """Profiles whose email or external key (including merged contacts' keys) contains ``text``.

    Case-insensitive; exact matches first, then prefix matches, then the rest; at most ``limit`` rows.
    Columns: ``profile_id``, ``email``, ``external_key``, ``full_name``, ``country_code``, ``order_count``.
    """
    needle = normalize_query(text)
    columns = ["profile_id", "email", "external_key", "full_name", "country_code", "order_count"]
    if not needle:
        return pd.DataFrame(columns=columns)
    with read_only(db) as con:
        p = con.table("profiles")
        ids = con.table("profile_identities")
        email = p.email.lower()
        key = p.external_key.lower()
        merged_ids = ids.filter(ids.external_key.lower().contains(needle)).profile_id
        hit = email.contains(needle) | key.contains(needle) | p.profile_id.isin(merged_ids)
        rank = (
            ibis.cases(
                ((email == needle) | (key == needle), 0),
                (email.startswith(needle) | key.startswith(needle), 1),
                else_=2,
            )
        ).name("rank")
        expr = (
            p.filter(hit.fill_null(False))
            .mutate(rank)
            .order_by(["rank", email.length(), "email", "external_key"])
            .limit(max(1, min(limit, SEARCH_LIMIT)))
            .select(columns)
        )
        return expr.to_pandas()


def attributes_table(raw: object) -> pd.DataFrame:
    """The custom attributes JSON as rows of ``attribute``, ``value``; nested values stay JSON text."""
    if raw is None or (isinstance(raw, float) and pd.isna(raw)):
        return pd.DataFrame(columns=["attribute", "value"])
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return pd.DataFrame({"attribute": ["(unreadable)"], "value": [str(raw)]})
    if not isinstance(parsed, dict):
        return pd.DataFrame({"attribute": ["(value)"], "value": [json.dumps(parsed)]})
    rows = [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in sorted(parsed.items())]
    return pd.DataFrame(rows, columns=["attribute", "value"])


def _for_profile(con: IbisDuckDB, table: str, profile_id: str, order: list[ir.Value] | None = None) -> pd.DataFrame:
    t = con.table(table)
    expr = t.filter(t.profile_id == profile_id)
    if order:
        expr = expr.order_by(order)
    result: pd.DataFrame = expr.to_pandas()
    return result


def _timeline(events: pd.DataFrame, orders: pd.DataFrame, message_events: pd.DataFrame) -> pd.DataFrame:
    """One frame of everything the profile did or received: ``occurred_at``, ``source``, ``event_type``, ``detail``."""
    parts = []
    if not events.empty:
        detail = events["url"].fillna(events["search_query"]).fillna(events["product_id"]).fillna(events["category"])
        parts.append(
            pd.DataFrame(
                {
                    "occurred_at": events["occurred_at"],
                    "source": "behaviour",
                    "event_type": events["event_type"],
                    "detail": detail,
                }
            )
        )
    if not orders.empty:
        amount = orders["total_amount_eur"].map(lambda v: "" if pd.isna(v) else f"{v:,.2f} EUR")
        parts.append(
            pd.DataFrame(
                {
                    "occurred_at": orders["ordered_at"],
                    "source": "order",
                    "event_type": "order " + orders["status"].fillna("unknown").astype(str),
                    "detail": orders["order_id"].astype(str) + " · " + amount,
                }
            )
        )
    if not message_events.empty:
        parts.append(
            pd.DataFrame(
                {
                    "occurred_at": message_events["occurred_at"],
                    "source": "message",
                    "event_type": message_events["event_type"],
                    "detail": message_events["campaign_name"].fillna(message_events["message_id"].astype(str)),
                }
            )
        )
    columns = ["occurred_at", "source", "event_type", "detail"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.sort_values("occurred_at", ascending=False, ignore_index=True)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def profile_360(db: str, profile_id: str) -> Profile360 | None:
    """One profile with its identities, consents, orders, messages, devices and timeline; None if unknown."""
    with read_only(db) as con:
        p = con.table("profiles")
        rows = p.filter(p.profile_id == profile_id).limit(1).to_pyarrow().to_pylist()
        if not rows:
            return None
        identities = _for_profile(con, "profile_identities", profile_id, [ibis.desc("is_survivor"), "external_key"])
        consents = _for_profile(con, "profile_consents", profile_id, ["channel", "topic"])
        orders = _for_profile(con, "orders", profile_id, [ibis.desc("ordered_at")])
        order_lines = _for_profile(con, "order_lines", profile_id, ["order_id", "order_line_id"])
        messages = _for_profile(con, "messages", profile_id, [ibis.desc("sent_at")])
        devices = _for_profile(con, "push_devices", profile_id, [ibis.desc("registered_at")])
        events = _for_profile(con, "profile_events", profile_id, [ibis.desc("occurred_at")])
        m = con.table("messages")
        e = con.table("message_events")
        message_events = (
            e.filter(e.profile_id == profile_id)
            .left_join(m.select("message_id", "campaign_name", "channel"), "message_id")
            .select(
                e.occurred_at,
                e.event_type,
                "campaign_name",
                "channel",
                e.email,
                e.bounce_type,
                e.reason,
                e.url,
                e.message_id,
            )
            .order_by(ibis.desc("occurred_at"))
            .to_pandas()
        )
    profile = rows[0]
    return Profile360(
        profile=profile,
        attributes=attributes_table(profile.get("attributes")),
        identities=identities,
        consents=consents,
        orders=orders,
        order_lines=order_lines,
        messages=messages,
        message_events=message_events,
        devices=devices,
        timeline=_timeline(events, orders, message_events),
    )
