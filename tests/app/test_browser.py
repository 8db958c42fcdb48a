"""The Profiles page in a real browser: a Streamlit server over the test warehouse, driven by headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 60
WAIT_MS = 30_000

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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(warehouse, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A Streamlit server on a free port reading the test warehouse; yields its URL and always stops it."""
    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "HERALD_HOME": str(ROOT),
            "HERALD_WAREHOUSE_DIR": str(warehouse.dir),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    log = (tmp_path / "streamlit.log").open("w")
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
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{(tmp_path / 'streamlit.log').read_text()}")
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


def test_profiles_page_in_chromium(chromium: str, server: str, warehouse, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    total = warehouse.value("select count(*) from profiles")
    profile_id, email, full_name = warehouse.rows(
        "select profile_id, email, full_name from profiles where email is not null "
        "order by order_count desc, profile_id limit 1"
    )[0]
    orders = warehouse.value("select count(*) from orders where profile_id = ?", [profile_id])

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(WAIT_MS)
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
        finally:
            browser.close()
