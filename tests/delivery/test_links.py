"""Signed download links: only a valid, unexpired, unrevoked token for a matching delivery gets the PDF."""

import time
from unittest import mock

import pytest
from django.core import signing
from django.utils import timezone

from delivery.links import delivery_token
from delivery.models import Delivery, DownloadLog
from delivery.services import summaries_request
from reports.renderers.base import fmt_money
from reports.services import report_run_generate
from tests.delivery.conftest import END, START, donor_with_gift
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery():
    donor_with_gift(reporting=1, silent=0, name="Global Affairs Canada")
    [run_id] = summaries_request(start=START, end=END)
    report_run_generate(run_id=run_id)
    return Delivery.objects.get()


def url(token):
    return f"/d/{token}/"


def test_a_valid_token_serves_the_pdf_as_an_uncached_attachment_and_logs_it(client, delivery):
    response = client.get(url(delivery_token(delivery.pk)), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    # Named for the donor, not the database: RFC 2231 (filename*) carries the en dash.
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Impact%20summary%202025%20%E2%80%93%20Global%20Affairs%20Canada.pdf"
    )
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert list(DownloadLog.objects.values_list("delivery_id", "ip", "format")) == [(delivery.pk, "203.0.113.9", "pdf")]


def test_the_token_holds_only_the_delivery_id(delivery):
    token = delivery_token(delivery.pk)
    assert signing.loads(token, salt="delivery-link") == delivery.pk
    assert delivery.email not in signing.b64_decode(token.split(":")[0].encode()).decode()


def test_a_tampered_token_is_a_bare_404(client, delivery):
    token = delivery_token(delivery.pk)
    forged = signing.dumps(delivery.pk + 1, salt="delivery-link")[: token.rfind(":")] + token[token.rfind(":") :]
    for bad in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), forged, "nonsense", signing.dumps(delivery.pk)):
        response = client.get(url(bad))
        assert response.status_code == 404
    assert not DownloadLog.objects.exists()


def test_an_expired_token_is_a_404(client, delivery, settings):
    settings.DELIVERY_LINK_MAX_AGE_DAYS = 30
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 31 * 86400):
        old = delivery_token(delivery.pk)
    assert client.get(url(old)).status_code == 404
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 29 * 86400):
        recent = delivery_token(delivery.pk)
    assert client.get(url(recent)).status_code == 200


def test_a_revoked_link_is_a_404(client, delivery, finance_user):
    token = delivery_token(delivery.pk)
    client.force_login(finance_user)
    response = client.post("/admin/delivery/delivery/", {"action": "revoke_links", "_selected_action": [delivery.pk]})
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.revoked_at and delivery.revoked_by == finance_user
    client.logout()
    assert client.get(url(token)).status_code == 404


def test_only_finance_may_revoke(client, delivery):
    from tests.factories import role_user

    client.force_login(role_user("Programme"))
    client.post("/admin/delivery/delivery/", {"action": "revoke_links", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.revoked_at is None


def test_a_token_for_someone_elses_run_is_a_404(client, delivery):
    other_donor = donor_with_gift(reporting=1, silent=0)
    [other_run] = summaries_request(start=START, end=END, refs=[other_donor.ref])
    report_run_generate(run_id=other_run)
    # A delivery whose contact is not the run's donor's (a bad row or a forged join): nothing is served.
    crossed = Delivery.objects.create(run_id=other_run, contact=delivery.contact, email=delivery.email)
    assert client.get(url(delivery_token(crossed.pk))).status_code == 404
    stranger = ContactFactory()
    foreign = Delivery.objects.create(run=delivery.run, contact=stranger, email=stranger.email)
    assert client.get(url(delivery_token(foreign.pk))).status_code == 404
    assert client.get(url(delivery_token(10_000_000))).status_code == 404


def test_the_same_token_opens_the_html_version_linking_to_the_pdf_and_logs_it(client, delivery):
    token = delivery_token(delivery.pk)
    response = client.get(f"/d/{token}/report/", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"
    page = response.content.decode()
    run = delivery.run
    received = next(f for f in run.snapshot["figures"] if f["key"] == "received_in_period")
    assert "Global Affairs Canada" in page and fmt_money(received["value"]) in page
    assert f'href="/d/{token}/"' in page
    assert list(DownloadLog.objects.values_list("delivery_id", "ip", "format")) == [
        (delivery.pk, "203.0.113.9", "html")
    ]


def test_a_bad_or_revoked_token_opens_no_html_version(client, delivery):
    token = delivery_token(delivery.pk)
    assert client.get(f"/d/{token[:-2]}AB/report/").status_code == 404
    Delivery.objects.filter(pk=delivery.pk).update(revoked_at=timezone.now())
    assert client.get(f"/d/{token}/report/").status_code == 404
    assert not DownloadLog.objects.exists()
