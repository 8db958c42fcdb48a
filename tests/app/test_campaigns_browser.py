"""The Preparation page in a real browser: open a delivery, prepare it, and read the report's waterfall.

A Streamlit server runs over a scratch copy of the project and its warehouse (the preparation publishes into
it), driven by headless Chromium; the figures shown are checked against the run the warehouse recorded.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from herald import warehouse
from herald.campaigns.jobs import read_job
from herald.campaigns.report import run_report
from herald.project import Project
from tests.app.browser import browser_page
from tests.app.test_campaigns_page import send_to_everyone

DELIVERY = "winter_sale_email"
PREPARE_WAIT_MS = 180_000  # see PREPARE_WAIT_SECONDS in test_campaigns_page.py

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _runs(project: Project) -> list[str]:
    name = project.current_pointer.read_text(encoding="utf-8").strip()
    con = warehouse.open_published(project.published_dir / name)
    try:
        return [r[0] for r in con.execute("select run_id from delivery_runs order by run_id").fetchall()]
    finally:
        con.close()


def test_prepare_a_delivery_and_read_its_waterfall(
    chromium: str, scratch_server: str, scratch_project: Project, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    send_to_everyone(scratch_project)  # specs are read per page run: the running server sees the change
    assert _runs(scratch_project) == []
    with browser_page(chromium, height=1600) as page:
        # From the plan to the delivery's preparation, as a marketer would go.
        page.goto(f"{scratch_server}/campaigns", wait_until="domcontentloaded")
        expect(page.get_by_text(DELIVERY, exact=True)).to_be_visible()
        # This delivery's own link: the list's order follows status and schedule, not the plan file.
        page.locator(f"a[href*='={DELIVERY}']").filter(has_text="Prepare").first.click()
        expect(page.get_by_role("heading", name="Preparation")).to_be_visible()
        expect(page.get_by_text("No run yet", exact=False)).to_be_visible()

        page.get_by_role("button", name="Prepare", exact=True).click()
        expect(page.get_by_text("Preparing", exact=False)).to_be_visible()
        waterfall = page.get_by_text("Exclusion waterfall", exact=True)
        expect(waterfall).to_be_visible(timeout=PREPARE_WAIT_MS)
        # The page shows the run once it is published; the job records its end just after.
        deadline = time.monotonic() + 60
        job = read_job(scratch_project, DELIVERY)
        while (job is None or job.state == "running") and time.monotonic() < deadline:
            time.sleep(0.5)
            job = read_job(scratch_project, DELIVERY)
        assert job is not None and job.state == "succeeded" and job.run_id is not None, job
        expect(page.get_by_text(f"Prepared run {job.run_id}", exact=False)).to_be_visible()

        report = run_report(scratch_project, job.run_id)
        excluded: dict[str, int] = {}
        for rule, _, n in report.waterfall:
            excluded[rule] = excluded.get(rule, 0) + n
        assert len(excluded) >= 3, excluded
        # The chart draws every step with its number; the table beside it lists them.
        chart = page.get_by_test_id("stVegaLiteChart").filter(has_text="Exclusion waterfall")
        expect(chart).to_be_visible()
        numbers = [report.run.audience_size, *excluded.values(), report.run.control_count, report.run.send_count]
        for n in numbers:
            expect(chart).to_contain_text(f"{n:,}")
        steps = page.get_by_test_id("stTable").filter(has_text="To send")
        expect(steps.locator("tr").filter(has_text="Audience")).to_contain_text(f"{report.run.audience_size:,}")
        expect(steps.locator("tr").filter(has_text="To send")).to_contain_text(f"{report.run.send_count:,}")
        expect(steps.locator("tr").filter(has_text="Control group")).to_contain_text(f"−{report.run.control_count:,}")
        for n in excluded.values():
            expect(steps).to_contain_text(f"−{n:,}")
        page.screenshot(path=str(tmp_path / "campaign-prepared.png"), full_page=True)
    assert _runs(scratch_project) == [job.run_id]
