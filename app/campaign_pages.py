"""What the campaign pages share: the top of a delivery's page (the delivery picked, named in the URL and
remembered from page to page, and its status badge), and the plans that do not load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from app.data import campaigns as data
from app.ui import plain, require_warehouse
from herald.campaigns.catalog import DeliveryRef
from herald.campaigns.plan_files import Plans, load_plans
from herald.campaigns.status import STATUS_MEANINGS, LatestRun, Status, current_hash, delivery_status
from herald.project import Project, find_project

SELECTED = "cmp_delivery"  # the delivery the campaign pages show, shared between them
QUERY = "delivery"  # ...and its query parameter, so a delivery's pages can be linked to
NO_DELIVERY = "No delivery yet: add one to a plan under `specs/plans/` (see docs/campaigns.md)."
# st.badge colours, by status.
STATUS_BADGES: Mapping[Status, Literal["gray", "blue", "red", "green", "orange", "violet"]] = {
    "draft": "gray",
    "prepared": "blue",
    "blocked": "red",
    "approved": "green",
    "outdated": "orange",
    "sending": "violet",
    "sent": "gray",
    "cancelled": "gray",
}


def selected_delivery(ids: list[str]) -> str | None:
    """The delivery to show: the one the URL names, else the one last picked on any campaign page, else the
    first. Remembered for the other pages and mirrored in the URL."""
    wanted = st.query_params.get(QUERY)
    if wanted in ids:
        st.session_state[SELECTED] = wanted
    current = st.session_state.get(SELECTED)
    if current not in ids:
        current = ids[0] if ids else None
        st.session_state[SELECTED] = current
    if current is not None and st.query_params.get(QUERY) != current:
        st.query_params[QUERY] = current
    return current


def remember_delivery(widget_key: str) -> None:
    """on_change of a page's delivery picker."""
    st.session_state[SELECTED] = st.session_state[widget_key]
    st.query_params[QUERY] = st.session_state[widget_key]


def status_badge(status: Status) -> None:
    st.badge(status, color=STATUS_BADGES[status], help=STATUS_MEANINGS[status])


def broken_plans(plans: Plans) -> None:
    """Say which plan files do not load, and why."""
    for path, message in plans.broken.items():
        st.error(f"The plan {plain(path.name)} cannot be read:", icon=":material/error:")
        st.code(message, language="text", wrap_lines=True)


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """What a delivery's page shows: the published file and project it reads, the plans, the picked delivery
    with its latest run, and where it stands."""

    db: str
    project: Project
    plans: Plans
    ref: DeliveryRef
    latest: LatestRun | None
    content_hash: str | None  # the content it would be prepared with now (None: its template does not load)
    status: Status


def delivery_page(title: str, key: str, *, show_broken: bool = False) -> DeliveryPage | None:
    """The top of a delivery's page: its title, the delivery picker (widget ``key``) and the picked delivery's
    status badge (after the plans that do not load, with ``show_broken``). None, after saying so, when the
    plans have no delivery; the page stops when nothing is published."""
    st.title(title)
    db = require_warehouse()
    project = find_project()
    plans = load_plans(project)
    if show_broken:
        broken_plans(plans)
    ids = plans.ids()
    current = selected_delivery(ids)
    if current is None:
        st.info(NO_DELIVERY)
        return None
    st.session_state[key] = current
    st.selectbox("Delivery", ids, key=key, on_change=remember_delivery, args=(key,))
    ref = plans.ref(current)
    assert ref is not None
    latest = data.latest_runs(db).get(current)
    now_hash = current_hash(project, ref)
    page = DeliveryPage(db, project, plans, ref, latest, now_hash, delivery_status(latest, now_hash))
    status_badge(page.status)
    return page
