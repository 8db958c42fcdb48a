"""The delivery report in a real browser: headless Chromium opens it and sees the funnel chart drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_delivery_report_draws_the_funnel(chromium: str, server: str, warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    name, sent = warehouse.rows(
        "select campaign_name, sent_count from campaign_metrics order by last_sent_at desc nulls last, campaign_id "
        "limit 1"
    )[0]
    with browser_page(chromium) as page:
        page.goto(f"{server}/report", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Delivery report")).to_be_visible()
        expect(page.get_by_role("combobox", name="Campaign")).to_have_value(f"{name} · email · history")
        sent_tile = page.get_by_test_id("stMetric").filter(has=page.get_by_text("Sent", exact=True))
        expect(sent_tile.get_by_test_id("stMetricValue")).to_have_text(f"{sent:,}")
        funnel = page.get_by_test_id("stVegaLiteChart").first
        # Vega draws the chart as SVG: the funnel's title and its stage labels are text in it.
        expect(funnel.locator("svg text", has_text="Funnel")).to_have_count(1)
        for stage in ("sent", "delivered", "opened", "clicked"):
            expect(funnel.locator("svg text", has_text=stage).first).to_be_visible()
        expect(funnel.locator("svg .mark-rect path")).to_have_count(4)  # one bar per stage
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
        page.screenshot(path=str(tmp_path / "delivery-report.png"), full_page=True)
