"""Herald's app: page config, navigation and the shared sidebar. Pages live in ``app/views/``.

Run with ``streamlit run app/streamlit_app.py`` from the project folder (``make demo`` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Streamlit puts this file's folder on sys.path, not the project's; without an installed package the
# ``app`` and ``herald`` imports below need the project folder.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.ui import build_sidebar  # noqa: E402

st.set_page_config(page_title="Herald", page_icon=":material/campaign:", layout="wide")

page = st.navigation(
    [
        st.Page("views/profiles.py", title="Profiles", icon=":material/group:", url_path="profiles", default=True),
        st.Page("views/audiences.py", title="Audiences", icon=":material/filter_alt:", url_path="audiences"),
        st.Page("views/campaigns.py", title="Campaigns", icon=":material/calendar_month:", url_path="campaigns"),
        st.Page("views/campaign_delivery.py", title="Delivery", icon=":material/edit_note:", url_path="delivery"),
        st.Page(
            "views/campaign_preparation.py", title="Preparation", icon=":material/fact_check:", url_path="preparation"
        ),
        st.Page("views/campaign_approval.py", title="Approval", icon=":material/verified:", url_path="approval"),
        st.Page("views/reports_delivery.py", title="Delivery report", icon=":material/insights:", url_path="report"),
        st.Page("views/reports_overview.py", title="Campaign reports", icon=":material/bar_chart:", url_path="reports"),
        st.Page("views/reports_explore.py", title="Explore", icon=":material/pivot_table_chart:", url_path="explore"),
        st.Page("views/automation.py", title="Automation", icon=":material/schedule:", url_path="automation"),
    ]
)

with st.sidebar:
    build_sidebar()

page.run()
