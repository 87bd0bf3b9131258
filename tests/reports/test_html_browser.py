"""The HTML versions of the three reports in Chromium, as staff open them from the reports page and
as a donor opens one from the email's link: axe-core finds no violation, the Content Security
Policy blocks nothing, and the page fits a phone's width.

The data is seeded once for the module and committed for the live server to see, then flushed.
"""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from delivery.links import delivery_token
from delivery.models import Delivery, DownloadLog
from donors.models import Donor
from reports.models import ReportRun
from reports.services import report_run_generate
from tests.backoffice.test_accessibility import readable
from tests.browser import chromium, signed_in_page
from tests.conftest import demo_database_copy
from tests.factories import PASSWORD
from tests.reports.conftest import funding_add
from tests.reports.html_pages import END, START, runs_made

PHONE = {"width": 390, "height": 844}
# How wide the page is; a wide table scrolls inside its own box (.scroll) rather than the page.
WIDTH = "() => document.documentElement.scrollWidth"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def visited(browser, live_server, demo_database, django_db_blocker):
    """{name: (status, axe violations, page width on a phone)} for each page, and the CSP messages."""
    from axe_playwright_python.sync_playwright import Axe

    with django_db_blocker.unblock(), demo_database_copy(demo_database):
        funding_add()
        user = get_user_model().objects.create_superuser("html-root", "html-root@example.org", PASSWORD)
        runs = runs_made(by=user)
        summary = runs["donor_summary"]
        contact = summary.donor.contacts.first()
        delivery = Delivery.objects.create(run=summary, contact=contact, email=contact.email)
        # A French-speaking donor's summary (seed_demo's, Donor.language).
        french = ReportRun.objects.create(
            kind="donor_summary", donor=Donor.objects.filter(language="fr").order_by("ref").first(),
            period_start=START, period_end=END, requested_by=user,
        )  # fmt: skip
        runs["donor_summary_fr"] = report_run_generate(run_id=french.pk)
        urls = {kind: reverse("reports:run_html", args=[run.pk]) for kind, run in runs.items()}
        donor_url = reverse("delivery:report", args=[delivery_token(delivery.pk)])
        csp, found = [], {}
        context, page = signed_in_page(browser, live_server, user, next_url="/reports/", csp_messages=csp)
        axe = Axe()
        for name, url in urls.items():
            found[name] = _visit(page, axe, f"{live_server.url}{url}")
        context.close()
        # The donor: no login, a fresh browser context.
        donor_context = browser.new_context()
        donor_page = donor_context.new_page()
        donor_page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
        found["donor link"] = _visit(donor_page, axe, f"{live_server.url}{donor_url}")
        donor_context.close()
        # axe-core's own checks trip the policy with messages of its own; the pages' are checked apart.
        found["logged views"] = DownloadLog.objects.filter(delivery=delivery, format="html").count()
        yield found, [m for m in csp if "axe" not in m.lower()]


def _visit(page, axe, url):
    response = page.goto(url)
    violations = [readable(v) for v in axe.run(page).response["violations"]]
    page.set_viewport_size(PHONE)
    width = page.evaluate(WIDTH)
    page.set_viewport_size({"width": 1366, "height": 900})
    return response.status, violations, width, page.evaluate("document.documentElement.lang")


PAGES = ["donor_summary", "donor_summary_fr", "portfolio", "output_statement", "donor link"]


@pytest.mark.parametrize("name", PAGES)
def test_the_html_version_answers_and_axe_finds_no_violation(visited, name):
    status, violations, *_ = visited[0][name]
    assert status == 200
    assert violations == [], "axe-core found:\n" + "\n".join(violations)


@pytest.mark.parametrize("name", PAGES)
def test_the_html_version_fits_a_phone(visited, name):
    assert visited[0][name][2] <= PHONE["width"]


def test_the_donors_view_is_logged(visited):
    assert visited[0]["logged views"] == 1


def test_the_french_summary_says_it_is_french_and_the_others_english(visited):
    languages = {name: visited[0][name][3] for name in PAGES}
    assert languages == {"donor_summary": "en-GB", "donor_summary_fr": "fr", "portfolio": "en-GB",
                         "output_statement": "en-GB", "donor link": "en-GB"}  # fmt: skip
