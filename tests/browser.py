"""Real headless Chromium (Debian's `chromium`) driven by Playwright, on a phone-size screen."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.conftest import IN_CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.asynccontextmanager
async def phone_page(url: str) -> AsyncIterator[Page]:
    """`url` in headless Chromium on a phone-size screen (required in CI, skipped elsewhere)."""
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail("Chromium is required in CI (Debian package 'chromium')")
        pytest.skip("Chromium not installed")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 390, "height": 780})
        await page.goto(url)
        try:
            yield page
        finally:
            await browser.close()
