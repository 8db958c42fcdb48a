"""The Profiles page in a real browser: a Streamlit server over the test warehouse, driven by headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_profiles_page_in_chromium(chromium: str, server: str, warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    total = warehouse.value("select count(*) from profiles")
    profile_id, email, full_name = warehouse.rows(
        "select profile_id, email, full_name from profiles where email is not null "
        "order by order_count desc, profile_id limit 1"
    )[0]
    orders = warehouse.value("select count(*) from orders where profile_id = ?", [profile_id])

    with browser_page(chromium) as page:
        page.goto(f"{server}/", wait_until="domcontentloaded")

        values = page.locator('[data-testid="stMetricValue"]')
        values.first.wait_for(state="visible")
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(state="visible")
        expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(4)
        assert int(values.first.inner_text().replace(",", "")) == total
        page.screenshot(path=str(tmp_path / "profiles-overview.png"), full_page=True)

        search = page.get_by_label("Email or external key")
        search.fill(email)
        search.press("Enter")
        heading = page.get_by_role("heading", name=f"{full_name} · {email}")
        heading.wait_for(state="visible")
        orders_metric = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Orders", exact=True))
        expect(orders_metric.get_by_test_id("stMetricValue")).to_have_text(f"{orders:,}")
        # The run is over once the "running" indicator is gone; only then are all tables drawn.
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
        expect(page.get_by_role("tab", name="Timeline")).to_be_visible()
        heading.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "profile-360.png"), full_page=True)
