"""Headless Chromium (Debian's package) driven by Playwright for Python.

Under CI=true a missing browser fails the run; elsewhere the tests skip with a message.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]


def _chromium_path() -> str | None:
    return os.environ.get("ZHIWANG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("CI=true but no chromium was found (apt-get install chromium)")
        pytest.skip("no chromium found: install Debian's chromium package to run the browser tests")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # the test itself are still synchronous and safe here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    # expect() retries assertions until the page has answered; give it the same patience.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    pg = context.new_page()
    pg.base_url = live_server.url
    yield pg
    context.close()
