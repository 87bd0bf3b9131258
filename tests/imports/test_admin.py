from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from donors.models import Donation, DonationBatch
from tests.factories import role_user

from .conftest import HEADER, counts

GOOD = HEADER + 'BANK-1,DON-0001,2025-03-02,100.50,GBP,,PLG-0001,,=HYPERLINK("x")\n'
CSV_FORMAT = "0"  # transfers.resources.FORMATS: CSV, XLSX


def test_finance_sees_the_import_button_and_auditor_does_not(ledger, client):
    client.force_login(role_user("Finance"))
    page = client.get(reverse("admin:donors_donation_changelist")).content.decode()
    assert reverse("admin:donors_donation_import") in page
    client.force_login(role_user("Auditor"))
    page = client.get(reverse("admin:donors_donation_changelist")).content.decode()
    assert reverse("admin:donors_donation_import") not in page
    assert reverse("admin:donors_donation_export") in page


def test_import_without_permission_is_403(ledger, client):
    client.force_login(role_user("Auditor"))
    assert client.get(reverse("admin:donors_donation_import")).status_code == 403
    upload = SimpleUploadedFile("march.csv", GOOD.encode())
    response = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})
    assert response.status_code == 403
    assert counts()["Donation"] == 0


def test_export_without_permission_is_403(ledger, client):
    client.force_login(role_user("Programme"))
    assert client.get(reverse("admin:donors_donation_export")).status_code == 403


def test_admin_import_previews_then_confirms_with_the_engine_rules(ledger, client):
    client.force_login(role_user("Finance"))
    upload = SimpleUploadedFile("march.csv", GOOD.encode())
    preview = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})
    assert preview.status_code == 200
    assert counts()["Donation"] == 0
    confirm = preview.context["confirm_form"]
    response = client.post(reverse("admin:donors_donation_process_import"), confirm.initial)
    assert response.status_code == 302
    donation = Donation.objects.get()
    assert donation.note == '=HYPERLINK("x")'
    assert DonationBatch.objects.get().reference.startswith("IMP-march.csv-")


def test_admin_import_reports_each_bad_row_and_writes_nothing(ledger, client):
    client.force_login(role_user("Finance"))
    bad = HEADER + "BANK-1,DON-0001,03/04/2025,1.2345,GBP,,,,\nBANK-2,DON-9,2025-03-02,5,GBP,,,,\n"
    upload = SimpleUploadedFile("bad.csv", bad.encode())
    response = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})
    result = response.context["result"]
    errors = [(row.number, dict(row.field_specific_errors)) for row in result.invalid_rows]
    assert errors == [
        (2, {"received_on": ["'03/04/2025' is not a date in the form YYYY-MM-DD."]}),
        (2, {"amount": ["'1.2345' has more than 3 decimal places, more than any currency has."]}),
        (3, {"donor_ref": ["There is no donor with reference 'DON-9'."]}),
    ]
    assert "confirm_form" not in response.context
    assert counts()["Donation"] == 0


def test_admin_upload_of_a_semicolon_file_gets_a_clear_message(ledger, client):
    client.force_login(role_user("Finance"))
    upload = SimpleUploadedFile("semi.csv", HEADER.replace(",", ";").encode() + b"a;b\n")
    response = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})
    assert "looks semicolon-delimited" in response.content.decode()


def test_admin_export_escapes_formulas(ledger, client):
    from tests.factories import DonationFactory

    DonationFactory(reference="@SUM(A1)", donor=ledger["first"], note="+cmd")
    client.force_login(role_user("Auditor"))
    response = client.post(
        reverse("admin:donors_donation_export"),
        {
            "format": CSV_FORMAT,
            "export_items": [],
            **{f"donationresource_{c}": "on" for c in HEADER.strip().split(",")},
        },
    )
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"'@SUM(A1)" in body and b"'+cmd" in body, body[:500]


def test_admin_refuses_an_oversized_upload_before_reading_it(ledger, client, settings):
    settings.IMPORT_MAX_BYTES = 50
    client.force_login(role_user("Finance"))
    upload = SimpleUploadedFile("big.csv", GOOD.encode())
    response = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})
    assert response.context["form"].errors == {
        "import_file": [f"The file is {len(GOOD.encode())} bytes; the limit is 50 bytes. Split it into parts."]
    }
    assert counts()["Donation"] == 0


def test_admin_preview_of_a_file_with_many_bad_rows_lists_the_first_100_and_the_count(ledger, client):
    client.force_login(role_user("Finance"))
    bad = HEADER + "".join(f"BANK-{i},DON-0001,2025-03-02,1.234,GBP,,,,\n" for i in range(1, 251))
    upload = SimpleUploadedFile("many.csv", bad.encode())
    response = client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})
    rows = response.context["result"].invalid_rows
    assert len(rows) == 101
    assert rows[0].number == 2 and rows[99].number == 101
    assert rows[100].non_field_specific_errors == [
        "250 errors in all; the first 100 are shown, 150 more are not. "
        "`manage.py import_data KIND FILE --dry-run` lists them all."
    ]
    assert counts()["Donation"] == 0
