"""A refused page (403) says what it is, whom it is open to and who the user is, and links back."""

import re
from html import unescape

import pytest

from tests.factories import role_user


def text(response) -> str:
    """The page's words, tags out and spaces folded."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_the_refused_reports_page_says_what_it_is_and_whom_it_is_open_to(client, db):
    client.force_login(role_user("Programme"))
    response = client.get("/reports/", HTTP_REFERER="http://testserver/dashboard/")
    assert response.status_code == 403
    words = text(response)
    assert "This page is not open to you" in words
    assert "The reports page is where PDF reports" in words
    assert "It is open to the Finance, Leadership and Auditor roles and to administrators." in words
    assert "You are signed in as programme , with the Programme role." in words
    html = response.content.decode()
    assert '<a href="http://testserver/dashboard/" id="refusal-back">Go back</a>' in html
    assert 'href="/reports/"' not in html  # no way in offered where the role is refused


def test_the_refused_dashboard_names_its_three_roles(client, db):
    client.force_login(role_user("Programme"))
    words = text(client.get("/dashboard/"))
    assert "The funding dashboard shows" in words
    assert "It is open to the Finance, Leadership and Auditor roles and to administrators." in words
    assert "with the Programme role" in words


def test_a_refused_admin_page_explains_itself_and_offers_the_back_office(client, db):
    client.force_login(role_user("Programme"))
    response = client.get("/admin/donors/donation/")
    assert response.status_code == 403
    assert "This page of the back office is not open to your role." in text(response)
    html = response.content.decode()
    # No referer: back to the back office's home, and the places the role opens.
    assert '<a href="/admin/" id="refusal-back">Go back</a>' in html
    assert '<li><a href="/admin/">Back office</a></li>' in html


@pytest.mark.parametrize(
    "referer", ["https://elsewhere.example/phish", "http://testserver/reports/", "javascript:alert(1)"]
)
def test_go_back_never_leaves_the_site_nor_loops(client, db, referer):
    """Another site's page, or the refused page itself, is not offered as the way back."""
    client.force_login(role_user("Programme"))
    html = client.get("/reports/", HTTP_REFERER=referer).content.decode()
    assert '<a href="/admin/" id="refusal-back">Go back</a>' in html


def test_a_refused_post_also_explains_itself(client, db):
    client.force_login(role_user("Auditor"))
    response = client.post("/dashboard/report/", {"start": "2025-01-01", "end": "2025-12-31"})
    assert response.status_code == 403
    assert "This generates the dashboard's portfolio PDF" in text(response)
    assert "open to the Finance and Leadership roles" in text(response)


def test_a_report_download_refused_names_who_may(client, db):
    client.force_login(role_user("Programme"))
    words = text(client.get("/reports/1/download/"))
    assert "This downloads a report's PDF. It is open to the Finance, Leadership and Auditor roles" in words


def test_a_refusal_before_the_user_is_known_still_explains_itself(client, db, settings):
    """CommonMiddleware refuses a disallowed user agent before AuthenticationMiddleware has run."""
    settings.DISALLOWED_USER_AGENTS = [re.compile("ScraperBot")]
    response = client.get("/admin/", HTTP_USER_AGENT="ScraperBot/1.0")
    assert response.status_code == 403
    assert "Forbidden user agent" in text(response)
