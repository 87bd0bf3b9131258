"""The admin's import page: a refused file's errors as a table in file order with a CSV download,
messages that name the user's own file, and each kind's columns and template."""

import io
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import role_user
from transfers.models import ImportJob

from .conftest import DATA, HEADER, counts

CSV_FORMAT, XLSX_FORMAT = "0", "1"  # transfers.resources.FORMATS
# Line 2's error is found by a lookup (an unknown donor), after line 3's and line 4's cells are read.
BAD = (
    HEADER
    + "BANK-1,DON-9,2025-03-02,5.00,GBP,,,,\n"
    + "BANK-2,DON-0001,03/04/2025,=1+2,GBP,,,,\n"
    + "BANK-3,DON-0001,2025-03-02,7.00,GBP,paypal,,,\n"
)


def upload(client, content: bytes | str, name: str = "march.csv", fmt: str = CSV_FORMAT, model="donors_donation"):
    data = content.encode() if isinstance(content, str) else content
    file = SimpleUploadedFile(name, data)
    return client.post(reverse(f"admin:{model}_import"), {"import_file": file, "format": fmt})


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The cells of a table's body, as text."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)]
            for r in rows]  # fmt: skip


@pytest.fixture
def finance(ledger, client):
    user = role_user("Finance")
    client.force_login(user)
    return user


def test_the_errors_are_a_table_in_file_order_with_line_column_value_and_message(finance, client):
    html = upload(client, BAD).content.decode()
    assert table_rows(html, "import-errors") == [
        ["2", "donor_ref", "DON-9", "There is no donor with reference 'DON-9'."],
        ["3", "received_on", "03/04/2025", "'03/04/2025' is not a date in the form YYYY-MM-DD."],
        ["3", "amount", "=1+2", f"'=1+2' {AMOUNT_FORM}"],
        ["4", "method", "paypal", "'paypal' is not one of: bank_transfer, card, cheque, in_kind."],
    ]
    # Shown as they are, not inside import-export's hover boxes.
    assert "validation-error-container" not in html
    assert "4 errors in march.csv: nothing was imported" in html
    assert counts()["Donation"] == 0


AMOUNT_FORM = (
    "is not an amount like 1234.50 (ASCII digits, '.' before the decimals, at most 3 decimals, "
    "no thousands separators, no currency sign)."
)


def test_the_errors_download_as_csv_without_the_upload(finance, client, settings):
    html = upload(client, BAD).content.decode()
    job = ImportJob.objects.get()
    url = reverse("admin:transfers_importjob_errors", args=[job.pk])
    assert f'href="{url}"' in html
    assert (job.status, job.file.name) == ("refused", "")  # the upload was not kept
    response = client.get(url)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="march-errors.csv"'
    assert response.content == (
        b"line,column,value,message\r\n"
        b"2,donor_ref,DON-9,There is no donor with reference 'DON-9'.\r\n"
        b"3,received_on,03/04/2025,'03/04/2025' is not a date in the form YYYY-MM-DD.\r\n"
        b"3,amount,'=1+2,\"''=1+2' " + AMOUNT_FORM.encode() + b'"\r\n'
        b"4,method,paypal,\"'paypal' is not one of: bank_transfer, card, cheque, in_kind.\"\r\n"
    )  # escaped as in every export: a spreadsheet shows the cell's text (=1+2), and does not run it


def test_only_the_uploader_downloads_the_errors(finance, client):
    upload(client, BAD)
    job = ImportJob.objects.get()
    url = reverse("admin:transfers_importjob_errors", args=[job.pk])
    client.force_login(role_user("Finance", "colleague"))
    assert client.get(url).status_code == 403
    page = client.get(reverse("admin:transfers_importjob_change", args=[job.pk])).content.decode()
    assert "DON-9" in page and url not in page  # the colleague sees the table, without the download
    client.force_login(role_user("Auditor", "auditor"))
    assert client.get(url).status_code == 403
    client.force_login(finance)
    assert client.get(url).status_code == 200


def test_the_job_page_shows_the_same_table_and_download(finance, client):
    upload(client, BAD)
    job = ImportJob.objects.get()
    html = client.get(reverse("admin:transfers_importjob_change", args=[job.pk])).content.decode()
    assert [row[:3] for row in table_rows(html, "import-errors")] == [
        ["2", "donor_ref", "DON-9"],
        ["3", "received_on", "03/04/2025"],
        ["3", "amount", "=1+2"],
        ["4", "method", "paypal"],
    ]
    assert reverse("admin:transfers_importjob_errors", args=[job.pk]) in html


def test_an_xlsx_chosen_as_csv_is_named_by_the_users_file_name_escaped(finance, client):
    workbook = (DATA / "bad_amount.xlsx").read_bytes()
    html = upload(client, workbook, name="Gifts <March>.csv").content.decode()
    assert (
        "Gifts &lt;March&gt;.csv is an Excel workbook (XLSX), not a CSV file. Choose the format xlsx, "
        "or save it from Excel as &#x27;CSV UTF-8 (comma delimited)&#x27;."
    ) in html
    assert "uploaded.csv" not in html and "<March>" not in html


def test_a_pdf_uploaded_as_csv_gets_one_clear_error(finance, client):
    html = upload(client, _pdf(), name="statement.pdf").content.decode()
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    assert [unescape(re.sub(r"<[^>]+>", "", e)).strip() for e in errors] == [
        "statement.pdf is not a CSV file: it is a PDF document. Choose the file saved from your spreadsheet "
        "as 'CSV UTF-8 (comma delimited)' or as an Excel workbook (.xlsx)."
    ]
    assert "missing" not in html and 'id="import-errors"' not in html
    assert ImportJob.objects.count() == 0


WRONG_FILES = {
    "png chosen as xlsx": (
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        "scan.png",
        XLSX_FORMAT,
        "scan.png is not an Excel workbook (XLSX): it is a PNG image.",
    ),
    "csv chosen as xlsx": (
        HEADER.encode(),
        "gifts.csv",
        XLSX_FORMAT,
        "gifts.csv is not an Excel workbook (XLSX): it is a text file. If it is a CSV file, choose the format csv.",
    ),
    "binary": (
        b"\x00\x01\x02\x03" * 100,
        "gifts.csv",
        CSV_FORMAT,
        "gifts.csv is not a CSV file: it is a binary file, not text.",
    ),
    "utf-16": (
        "reference\tdonor_ref\n".encode("utf-16"),
        "gifts.txt",
        CSV_FORMAT,
        "gifts.txt is UTF-16 text (Excel's 'Unicode Text'), not a CSV file.",
    ),
}


@pytest.mark.parametrize(("content", "name", "fmt", "message"), WRONG_FILES.values(), ids=WRONG_FILES.keys())
def test_other_wrong_files_are_named_and_refused_in_one_message(finance, client, content, name, fmt, message):
    html = unescape(upload(client, content, name=name, fmt=fmt).content.decode())
    assert message in html
    assert "is missing" not in html


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "reference,donor_ref,received_on")
    page.save()
    return out.getvalue()


def test_an_unknown_import_job_url_answers_404_not_500(finance, client):
    for url in ("/admin/transfers/importjob/import/", "/admin/transfers/importjob/import/change/"):
        assert client.get(url, follow=True).status_code == 404
    assert client.get("/admin/transfers/importjob/999999/errors/").status_code == 404


def test_a_control_character_in_a_value_is_shown_and_kept_as_a_symbol(finance, client):
    """PostgreSQL's JSON holds no NUL: the kept value shows it as ␀, as the table does."""
    html = upload(client, HEADER + "BANK-1,DON-0001,2025-03-02,5.00,GBP,,,,a\x00b\n").content.decode()
    assert table_rows(html, "import-errors") == [
        [
            "2",
            "note",
            "a\u2400b",
            "Contains the control character U+0000 at character 2; remove it "
            "(notes may hold tabs and line breaks, but no other).",
        ]
    ]
    assert ImportJob.objects.get().errors[0]["value"] == "a\u2400b"
