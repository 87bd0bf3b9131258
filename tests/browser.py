"""Debian's Chromium driven by Playwright, for tests that need a real browser (Playwright cannot
download its own here)."""

import os
import shutil

import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django's ORM must still be usable here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def chromium():
    """Yields a launched browser; skips without Chromium, fails instead in CI (REQUIRE_SERVICES=1)."""
    if not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def signed_in_page(browser, live_server, user, *, next_url: str, csp_messages: list, **context_options):
    """A new page signed in as `user` through the login form, landed on `next_url`. Console messages
    about the Content Security Policy go to `csp_messages`. Returns (context, page); close the context."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, **context_options)
    page = context.new_page()
    page.on("console", lambda m: csp_messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    return context, page
