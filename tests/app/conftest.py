"""A headless Chromium driven by selenium, for the tests that use a page as a reader does."""

from __future__ import annotations

import os
import shutil

import pytest


def need(what: str):
    """Skip without ``what`` (a browser, its driver, selenium); fail under ``CI=true``."""
    message = f"{what} not found: the browser tests need it"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: it must run)")
    pytest.skip(message)


@pytest.fixture
def driver():
    """A headless Chromium (selenium webdriver), closed after the test."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        need("selenium")
    chromium = shutil.which("chromium") or need("chromium")
    chromedriver = shutil.which("chromedriver") or need("chromedriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1800"):
        opts.add_argument(arg)
    browser = webdriver.Chrome(service=Service(chromedriver), options=opts)
    yield browser
    browser.quit()
