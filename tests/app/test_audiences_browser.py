"""The Audiences page in a real browser: build an audience, watch it count, show its SQL, save it, see it built.

A Streamlit server runs over a scratch copy of the project and its warehouse (saving writes the spec and the
models under the project root, and the build publishes into the warehouse), driven by headless Chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from herald import warehouse
from herald.audiences.spec import load_spec
from herald.project import Project
from tests.app.browser import browser_page

BUILD_WAIT_MS = 150_000  # see BUILD_WAIT_SECONDS in test_audiences_page.py

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _count(project: Project, sql: str) -> int:
    name = project.current_pointer.read_text(encoding="utf-8").strip()
    con = warehouse.open_published(project.published_dir / name)
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_build_count_show_sql_save_and_build_an_audience(
    chromium: str, scratch_server: str, scratch_project: Project, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    everyone = _count(scratch_project, "select count(*) from profiles")
    french = _count(scratch_project, "select count(*) from profiles where country_code = 'FR'")
    reachable = _count(
        scratch_project, "select count(*) from profiles where country_code = 'FR' and is_email_reachable"
    )
    assert everyone > french > reachable > 0

    def add(page: Page, kind: str) -> None:
        page.keyboard.press("Escape")  # a popover left open would close on the next click instead
        page.get_by_role("button", name="Add condition").click()
        page.get_by_role("button", name=kind, exact=True).click()
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()

    with browser_page(chromium, height=1400) as page:
        page.goto(f"{scratch_server}/audiences", wait_until="domcontentloaded")
        members = (
            page.get_by_test_id("stMetric")
            .filter(has=page.get_by_text("Members", exact=True))
            .get_by_test_id("stMetricValue")
        )
        expect(members).to_have_text(f"{everyone:,}")

        name = page.get_by_label("Name", exact=True)
        name.fill("fr_email_reachable")
        name.press("Enter")

        add(page, "Profile attribute")
        page.get_by_label("Value (country_code)").click()
        page.keyboard.type("FR")
        page.keyboard.press("Enter")
        expect(members).to_have_text(f"{french:,}")

        add(page, "Reachable on")
        expect(members).to_have_text(f"{reachable:,}")

        page.get_by_text("Show SQL", exact=True).click()
        sql = page.get_by_test_id("stCode").filter(has_text="SELECT")
        expect(sql).to_contain_text("'FR'")
        expect(sql).to_contain_text("is_email_reachable")
        page.screenshot(path=str(tmp_path / "audience-built.png"), full_page=True)

        page.get_by_role("button", name="Save and build").click()
        ready = page.get_by_text("is ready", exact=False)
        expect(ready).to_be_visible(timeout=BUILD_WAIT_MS)
        expect(ready).to_contain_text(f"{reachable:,} members")
        page.screenshot(path=str(tmp_path / "audience-ready.png"), full_page=True)

    saved = load_spec(scratch_project.specs_dir / "audiences" / "fr_email_reachable.yml")
    assert saved.where is not None and saved.name == "fr_email_reachable"
