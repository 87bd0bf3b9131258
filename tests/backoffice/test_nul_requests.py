"""A NUL character in a request is refused at the edge with 400, on every database (item 12 of issue 14)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from donors.models import Donor


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


def assert_refused(response):
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize("query", ["kind__exact=%00", "q=%00", "q=abc%00def", "o=1&%00=x"])
def test_a_nul_in_a_change_list_query_is_a_400(admin_client_, query):
    assert_refused(admin_client_.get(f"/admin/donors/donor/?{query}"))


def test_a_nul_in_a_posted_form_field_is_a_400_and_writes_nothing(admin_client_):
    response = admin_client_.post(
        "/admin/donors/donor/add/",
        {"name": "Nul\x00Foundation", "kind": "foundation", "country": "GB", "preferred_currency": "GBP"},
    )
    assert_refused(response)
    assert not Donor.objects.exists()


def test_a_nul_in_the_login_form_is_a_400(client, db):
    assert_refused(client.post("/admin/login/", {"username": "root\x00", "password": "pw"}))


def test_an_uploaded_file_may_hold_nul_bytes(admin_client_):
    upload = SimpleUploadedFile("donors.csv", b"ref,name\nDON-1,A\x00B\n", content_type="text/csv")
    response = admin_client_.post("/admin/donors/donor/import/", {"format": "0", "import_file": upload})
    assert response.status_code == 200


def test_an_ordinary_filter_still_answers(admin_client_):
    assert admin_client_.get("/admin/donors/donor/?kind__exact=government&q=Norway").status_code == 200
