"""The dashboard in a real browser: ``streamlit run`` headless, Chromium via Playwright,
every page visited, no exception box anywhere, a screenshot of each page saved to
``test-artifacts/screenshots/``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from patron.apps.dashboard import APP, PAGES

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
#: seconds a page may take to finish running its script
PAGE_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard_url(demo_config: Path, unavailable):
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        unavailable("no Chromium at /usr/bin/chromium: install chromium "
                    "(apt-get install -y chromium) to run the browser test")
    pytest.importorskip("playwright")
    port = _free_port()
    env = {**os.environ, "PATRON_CONFIG": str(demo_config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"streamlit did not start: {output[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.services
def test_every_page_renders_in_chromium_without_an_exception(dashboard_url: str) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for number, (script, title, _, url_path) in enumerate(PAGES):
                # the default (first) page lives at the root URL
                path = "" if number == 0 else url_path
                page.goto(f"{dashboard_url}/{path}", wait_until="domcontentloaded")
                page.wait_for_selector('[data-testid="stApp"]', timeout=PAGE_TIMEOUT_S * 1000)
                page.get_by_role("heading", name=title.replace("Lifetime value",
                                                               "Customer lifetime value"))\
                    .first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
                _wait_until_idle(page)
                if script == "customer.py":
                    _look_up_a_customer(page)
                page.screenshot(path=str(SCREENSHOTS / f"{url_path}.png"), full_page=True)
                if page.get_by_text("Page not found").count():
                    problems.append(f"{title}: page not found at /{path}")
                errors = page.locator('[data-testid="stException"]')
                if errors.count():
                    problems.append(f"{title}: {errors.first.inner_text()[:500]}")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def _wait_until_idle(page, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    """Wait until the script run finished (Streamlit shows a running status while busy)."""
    page.wait_for_timeout(500)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count()
        skeletons = page.locator('[data-testid="stSkeleton"]').count()
        if not running and not skeletons:
            break
        page.wait_for_timeout(250)
    page.wait_for_timeout(800)  # charts draw after the script finished


def _look_up_a_customer(page) -> None:
    box = page.get_by_label("Customer id (or its beginning)")
    box.fill("C0000000")
    box.press("Enter")
    page.get_by_text("Why at risk").or_(page.get_by_text("History")).first.wait_for(
        timeout=PAGE_TIMEOUT_S * 1000)
    _wait_until_idle(page)
