"""Every admin page, the dashboard, the reports page and the public /verify/ page in Chromium on a
1366 x 768 laptop screen, as a superuser on the demo data: axe-core finds no violation, and no page is wider than the
screen, nor any list wider than its box.

The pages are visited once for the module (seeding takes seconds, each page a second); the tests
then read what was found.
"""

import datetime as dt
from dataclasses import dataclass, field

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from delivery.models import Delivery, Mailing, ReminderSent
from donors.models import Contact, Donation, DonationBatch, Donor, DonorMerge
from donors.services import soft_credit_create
from journals.services import journal_export
from privacy.erasure import erasure_request
from privacy.models import SubjectAccessRequest
from reports.models import ReportRun
from spending.models import Agreement
from spending.services import variance_explanation_save
from tests.browser import chromium, signed_in_page
from tests.conftest import demo_database_copy
from tests.factories import PASSWORD
from transfers.models import ImportJob

SCREEN = {"width": 1366, "height": 768}

# The widest the page is, and for a list, how much wider its table is than the box it sits in.
WIDTHS = """() => {
    const box = document.querySelector("#changelist .results");
    return {page: document.documentElement.scrollWidth, list: box ? box.scrollWidth - box.clientWidth : 0};
}"""


@dataclass
class Visit:
    status: int
    violations: list[str] = field(default_factory=list)
    page_width: int = 0
    list_overflow: int = 0


def records_the_system_writes(by) -> None:
    """seed_demo makes none of these; one of each gives each its change page and a list row."""
    contact = Contact.objects.filter(receives_reports=True).select_related("donor").first()
    run = ReportRun.objects.create(
        kind=ReportRun.Kind.DONOR_SUMMARY,
        donor=contact.donor,
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31),
        requested_by=by,
        status=ReportRun.Status.FAILED,  # not queued: the reports page would refresh itself
        error="The worker stopped.",
    )
    Delivery.objects.create(run=run, contact=contact, email=contact.email)
    ReminderSent.objects.create(week="2025-W09")
    Mailing.objects.create(
        nonce="a11y", period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31), everyone=True,
        reports=1, contacts=1, skipped=0, confirmed_by=by,
    )  # fmt: skip
    ImportJob.objects.create(
        kind="outputs",
        file="imports/outputs.csv",
        file_name="outputs.csv",
        file_size=10,
        requested_by=by,
        status=ImportJob.Status.DONE,  # not running: its page would refresh itself
    )
    SubjectAccessRequest.objects.create(contact=contact, requested_by=by, status=SubjectAccessRequest.Status.FAILED)
    # A merge record only (nothing moved): its page, and its undo page, have something to show.
    first, second = Donor.objects.order_by("pk")[:2]
    DonorMerge.objects.create(survivor=first, loser=second, merged_by=by, reason="Imported twice")
    attempt = {"username": "someone", "ip_address": "192.0.2.1", "path_info": "/admin/login/"}
    AccessAttempt.objects.create(**attempt, failures_since_start=1)
    AccessFailureLog.objects.create(**attempt, locked_out=False)
    # A journal export of one posted batch (seed_demo makes the account map).
    batch = DonationBatch.objects.filter(status=DonationBatch.Status.POSTED).order_by("pk").first()
    journal_export(format="xero", batch_ids=[batch.pk], by=by)
    # A soft credit, a variance explanation and an erasure request that waits for its second person.
    gift = Donation.objects.filter(status="posted", reversal_of__isnull=True, reversed_by__isnull=True).first()
    soft_credit_create(donation=gift, donor=second if gift.donor_id != second.pk else first, kind="matched", by=by)
    agreement = Agreement.objects.order_by("pk").first()
    variance_explanation_save(
        agreement=agreement, start=agreement.start_date, end=agreement.end_date, line_code="1.2",
        text="Travel rose with the second regional workshop.", by=by,
    )  # fmt: skip
    erasure_request(by=by, reason="Asked by email on 1 December 2025.", contact=contact)


def pages(user) -> list[str]:
    """Each registered model's list, add page (where a superuser may add) and first change page."""
    request = RequestFactory().get("/admin/")
    request.user = user
    found = ["/admin/"]
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower):
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        found.append(base)
        if model_admin.has_add_permission(request):
            found.append(f"{base}add/")
        first = model._base_manager.order_by("pk").first()
        if first is not None:
            found.append(f"{base}{first.pk}/change/")
    first, second = Donor.objects.order_by("pk")[:2]
    merge = DonorMerge.objects.order_by("pk").first()
    duplicates = [
        "/admin/donors/donor/duplicates/",
        f"/admin/donors/donor/{second.pk}/merge/",
        f"/admin/donors/donor/{second.pk}/merge/?survivor={first.ref}",
        f"/admin/donors/donormerge/{merge.pk}/undo/",
    ]
    return [*found, *duplicates, "/dashboard/", "/reports/", "/verify/"]


def readable(violation: dict) -> str:
    targets = ", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"][:5])
    more = f" and {len(violation['nodes']) - 5} more" if len(violation["nodes"]) > 5 else ""
    return f"{violation['id']} ({violation['impact']}): {violation['help']}: {targets}{more}"


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def visited(browser, live_server, demo_database, django_db_blocker):
    """{url: Visit}. The data is committed for the live server to see, in a copy of the demo dropped at the end."""
    from axe_playwright_python.sync_playwright import Axe

    with django_db_blocker.unblock(), demo_database_copy(demo_database):
        user = get_user_model().objects.create_superuser("axe-root", "axe-root@example.org", PASSWORD)
        records_the_system_writes(user)
        # axe-core's own checks trip the Content Security Policy: its messages are not the pages'.
        context, page = signed_in_page(browser, live_server, user, next_url="/admin/", csp_messages=[])
        page.set_viewport_size(SCREEN)
        axe, found = Axe(), {}
        for url in pages(user):
            response = page.goto(f"{live_server.url}{url}")
            found[url] = visit = Visit(status=response.status)
            if response.status == 200:
                visit.violations = [readable(v) for v in axe.run(page).response["violations"]]
                widths = page.evaluate(WIDTHS)
                visit.page_width, visit.list_overflow = widths["page"], widths["list"]
        context.close()
        yield found


def test_every_page_answers(visited):
    assert {url: v.status for url, v in visited.items() if v.status != 200} == {}
    # Generated from the admin registry: every model's list is among them, with change pages.
    assert sum(url.endswith("/change/") for url in visited) == len(admin.site._registry)


def test_axe_finds_no_violation_on_any_page(visited):
    failing = {url: v.violations for url, v in visited.items() if v.violations}
    assert not failing, "axe-core found:\n" + "\n".join(
        f"{url}\n  " + "\n  ".join(violations) for url, violations in failing.items()
    )


def test_every_page_fits_a_laptop_screen(visited):
    too_wide = [
        f"{url}: page {v.page_width} px wide"
        + (f", list {v.list_overflow} px wider than its box" if v.list_overflow else "")
        for url, v in visited.items()
        if v.page_width > SCREEN["width"] or v.list_overflow > 0
    ]
    assert not too_wide, "Wider than a 1366 px screen:\n" + "\n".join(too_wide)
