"""The Audiences page in a real browser: build an audience, watch it count, show its SQL, save it, see it built.

A Streamlit server runs over a scratch copy of the project and its warehouse (saving writes the spec and the
models under the project root, and the build publishes into the warehouse), driven by headless Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald import warehouse
from herald.audiences.spec import load_spec
from herald.project import Project
from tests.app.test_browser import CHROMIUM_ARGS, SERVER_START_SECONDS, WAIT_MS

ROOT = Path(__file__).resolve().parents[2]
BUILD_WAIT_MS = 150_000  # see BUILD_WAIT_SECONDS in test_audiences_page.py

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; checked before the warehouse is built and the server started."""
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (`make test` installs it: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(chromium: str, scratch_project: Project, tmp_path: Path) -> Iterator[str]:
    """A Streamlit server on a free port over the scratch project; yields its URL and always stops it."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "HERALD_HOME": str(scratch_project.root),
            "HERALD_WAREHOUSE_DIR": str(scratch_project.warehouse_dir),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    log_path = tmp_path / "streamlit.log"
    log = log_path.open("w")
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {SERVER_START_SECONDS}s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


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
    chromium: str, server: str, scratch_project: Project, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
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

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{server}/audiences", wait_until="domcontentloaded")
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
        finally:
            browser.close()

    saved = load_spec(scratch_project.specs_dir / "audiences" / "fr_email_reachable.yml")
    assert saved.where is not None and saved.name == "fr_email_reachable"
