"""Every page carries the one site-wide Content-Security-Policy, and no page or file that shows ledger
data to a signed-in user or a donor may be kept by a browser or proxy cache."""

import datetime as dt

import pytest

from delivery.links import delivery_token
from delivery.models import Delivery
from delivery.services import summaries_request
from reports.models import ReportRun
from reports.services import report_run_generate, report_run_request
from tests.delivery.conftest import END, START, donor_with_gift
from tests.factories import role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    """A Finance user signed in, a donor with a delivered summary (a done run and its link), a queued portfolio."""
    donor = donor_with_gift(reporting=1, silent=0)
    [run_id] = summaries_request(start=START, end=END)
    assert report_run_generate(run_id=run_id).status == ReportRun.Status.DONE
    portfolio = report_run_request(kind="portfolio", start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
    client.force_login(role_user("Finance"))
    return {
        "donor": donor.pk,
        "donor_ref": donor.ref,
        "run": run_id,
        "portfolio": portfolio.pk,
        "token": delivery_token(Delivery.objects.get().pk),
    }


ADMIN_PAGES = {
    "admin index": "/admin/",
    "admin list": "/admin/donors/donor/",
    "admin change form": "/admin/donors/donor/{donor}/change/",
    "admin history": "/admin/donors/donor/{donor}/history/",
    "admin import": "/admin/donors/donor/import/",
    "admin export": "/admin/donors/donor/export/",
}
LEDGER_PAGES = {
    "reports page": "/reports/",
    "report download": "/reports/{run}/download/",
    "dashboard": "/dashboard/",
    "dashboard report status": "/dashboard/report/{portfolio}/",
    "donor download link": "/d/{token}/",
    "send preview": "/reports/summaries/preview/?start=2025-01-01&end=2025-12-31&audience=all",
    "send sample": "/reports/summaries/sample/?start=2025-01-01&end=2025-12-31&donor={donor_ref}",
}


def policy(response) -> dict[str, set[str]]:
    """The Content-Security-Policy as {directive: sources}, each request's nonce written as 'nonce'."""
    parsed = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, *sources = directive.split()
        parsed[name] = {"'nonce'" if s.startswith("'nonce-") else s for s in sources}
    return parsed


@pytest.mark.parametrize("path", [*ADMIN_PAGES.values(), *LEDGER_PAGES.values()], ids=[*ADMIN_PAGES, *LEDGER_PAGES])
def test_every_page_kind_carries_the_site_policy(client, world, path):
    response = client.get(path.format(**world))
    assert response.status_code == 200, response.status_code
    csp = policy(response)
    assert csp["default-src"] == {"'self'"}
    for kind in ("script-src", "style-src"):
        assert "'self'" in csp[kind] and not csp[kind] & {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"}
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == {"'none'"}
    assert csp["form-action"] == {"'self'"}
    # Inline attributes are allowed one by one, by hash, never wholesale.
    for kind in ("script-src-attr", "style-src-attr"):
        assert "'unsafe-inline'" not in csp[kind]
        assert all(s == "'unsafe-hashes'" or s.startswith("'sha256-") for s in csp[kind])


def test_the_policy_is_the_same_on_every_page(client, world):
    pages = {**ADMIN_PAGES, **LEDGER_PAGES}
    policies = {name: policy(client.get(path.format(**world))) for name, path in pages.items()}
    assert all(p == policies["admin index"] for p in policies.values()), policies


def test_the_sign_in_page_carries_the_policy(client, world):
    signed_in = policy(client.get("/admin/"))
    client.logout()
    assert policy(client.get("/admin/login/")) == signed_in


@pytest.mark.parametrize("path", LEDGER_PAGES.values(), ids=LEDGER_PAGES)
def test_pages_and_files_with_ledger_data_are_never_stored(client, world, path):
    response = client.get(path.format(**world))
    assert response.status_code == 200, response.status_code
    assert "no-store" in response["Cache-Control"].replace(" ", "").split(",")
