"""Pages behind login send an anonymous visitor to the sign-in page, which brings them back where they were."""

import pytest

from tests.factories import PASSWORD, role_user


@pytest.mark.parametrize("page", ["/dashboard/", "/reports/", "/dashboard/?start=2025-01-01&end=2025-06-30"])
def test_a_bookmark_leads_to_the_login_page_and_back(client, db, page):
    role_user("Finance")
    sent = client.get(page)
    assert sent.status_code == 302
    login = client.get(sent["Location"])
    assert login.status_code == 200
    assert 'name="next"' in login.content.decode()
    signed_in = client.post(sent["Location"], {"username": "finance", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == page
    assert client.get(page).status_code == 200


def test_after_the_idle_timeout_the_login_page_is_there(client, db):
    client.force_login(role_user("Leadership"))
    session = client.session
    session.set_expiry(-1)
    session.save()
    sent = client.get("/reports/")
    assert sent["Location"].startswith("/admin/login/?next=")
    assert client.get(sent["Location"]).status_code == 200


@pytest.mark.parametrize(
    "next_url", ["https://elsewhere.example/", "//elsewhere.example/", "http://testserver.elsewhere.example/"]
)
def test_signing_in_never_leaves_the_site(client, db, next_url):
    role_user("Finance")
    signed_in = client.post("/admin/login/", {"username": "finance", "password": PASSWORD, "next": next_url})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/"
