"""The dashboard in a real browser: Debian's Chromium driven by Playwright against live_server."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from backoffice.money import format_money
from reports.figures import portfolio_snapshot
from tests.browser import chromium, signed_in_page
from tests.conftest import demo_database_copy
from tests.factories import role_user
from tests.reports.conftest import funding_add

from .conftest import END, START

RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "dashboard"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def celery_worker_if_brokered(transactional_db):
    """With a real broker (CI), a worker thread runs the report task; without one, tasks run in process."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        yield
        return
    from backoffice.celery import app
    from tests.worker_thread import worker_thread

    with worker_thread(app):
        yield


@pytest.fixture
def page_for(browser, live_server):
    contexts, csp_errors = [], []

    def open_as(role):
        user = role_user(role, username=f"browser-{role.lower()}")
        context, page = signed_in_page(
            browser, live_server, user, next_url="/dashboard/", csp_messages=csp_errors, accept_downloads=True
        )
        contexts.append(context)
        return page

    yield open_as, csp_errors
    for context in contexts:
        context.close()


@pytest.fixture
def seeded(demo_database, django_db_blocker):
    """The demo and the report tests' funding, committed in a copy of the demo's database."""
    with django_db_blocker.unblock(), demo_database_copy(demo_database):
        funding_add()
        yield


def period(start=START, end=END):
    return f"start={start.isoformat()}&end={end.isoformat()}"


@pytest.mark.parametrize(
    ("role", "allowed"), [("Leadership", True), ("Finance", True), ("Auditor", True), ("Programme", False)]
)
def test_who_sees_the_dashboard(page_for, live_server, role, allowed):
    open_as, _ = page_for
    page = open_as(role)
    response = page.goto(f"{live_server.url}/dashboard/")
    assert (response.status == 200) is allowed
    assert page.locator("h1", has_text="Funding portfolio").count() == (1 if allowed else 0)


def test_key_figures_filters_and_pdf(page_for, live_server, seeded, celery_worker_if_brokered, tmp_path):
    open_as, csp_errors = page_for
    page = open_as("Leadership")
    page.goto(f"{live_server.url}/dashboard/?{period()}")
    snap = portfolio_snapshot(start=START, end=END)
    for f in snap["figures"]:
        shown = page.locator(f"[data-figure={f['key']}] .value").inner_text()
        assert shown == format_money(Decimal(f["value"]["amount"]), "GBP")
    assert page.locator("svg.chart").count() == 4

    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard-2025.png"), full_page=True)
    page.screenshot(path=str(tmp_path / "dashboard-2025.png"), full_page=True)

    # A different period, through the form: the URL carries it and the figures follow.
    before = page.locator("[data-figure=received] .value").inner_text()
    page.fill("input[name=start]", "2025-07-01")
    page.click("button[type=submit]:has-text('Show')")
    page.wait_for_url(re.compile(r"start=2025-07-01"))
    assert "end=2025-12-31" in page.url
    half = portfolio_snapshot(start=START.replace(month=7), end=END)
    received = next(f for f in half["figures"] if f["key"] == "received")
    after = page.locator("[data-figure=received] .value").inner_text()
    assert after == format_money(Decimal(received["value"]["amount"]), "GBP") and after != before

    # The PDF for the page's period, generated in the background, then downloaded and verified.
    page.click("#pdf-button")
    page.locator("#pdf-download").wait_for(state="visible", timeout=60_000)
    with page.expect_download() as download:
        page.click("#pdf-download")
    pdf = tmp_path / "portfolio.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    call_command("verify_report", str(pdf))  # raises CommandError unless VERIFIED
    assert csp_errors == []


# The size each chart text is drawn at on screen: its font size times the scale of the SVG around it.
CHART_TEXT_PX = """() => [...document.querySelectorAll('svg.chart text')].map((t) => {
  const m = t.getScreenCTM();
  return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
})"""


def test_the_page_fits_a_phone_and_chart_text_stays_readable(page_for, live_server, seeded):
    open_as, csp_errors = page_for
    page = open_as("Leadership")
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/dashboard/?{period()}")
        assert page.locator("svg.chart").count() == 4
        page.locator("details").evaluate_all("all => all.forEach((d) => { d.open = true; })")  # the tables too
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        sizes = page.evaluate(CHART_TEXT_PX)
        assert len(sizes) > 20 and min(sizes) >= 12, (width, sorted(sizes)[:3])
        RESULTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(RESULTS / f"dashboard-{width}.png"), full_page=True)
    assert csp_errors == []
