"""/favicon.ico answers, and every page links the same icon."""

from pathlib import Path

from django.contrib.staticfiles import finders
from django.templatetags.static import static

from tests.factories import role_user

ICON = finders.find("backoffice/favicon.ico")


def test_favicon_ico_answers_with_the_icon(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert body == Path(ICON).read_bytes()
    assert "max-age" in response["Cache-Control"]


def test_admin_pages_and_the_dashboard_link_the_icon(client, db):
    link = f'<link rel="icon" href="{static("backoffice/favicon.ico")}">'
    assert link in client.get("/admin/login/").content.decode()
    client.force_login(role_user("Finance"))
    for url in ["/admin/", "/admin/donors/donor/add/", "/admin/donors/donation/", "/reports/", "/dashboard/"]:
        assert link in client.get(url).content.decode(), url
