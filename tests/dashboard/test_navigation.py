"""The navigation on every page: each role sees the places it may open, and every one of them opens."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model

from tests.factories import PASSWORD, role_user

PLACES = {"Back office": "/admin/", "Dashboard": "/dashboard/", "Reports": "/reports/"}
ALL = list(PLACES)
EXPECTED = {
    "Finance": ALL,
    "Leadership": ALL,
    "Auditor": ALL,
    "Programme": ["Back office"],
    "administrator": ALL,
}


class NavLinks(HTMLParser):
    """The links inside <nav aria-label="Fundtrace">: (label, href, current)."""

    def __init__(self):
        super().__init__()
        self.links, self.depth, self._open = [], 0, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and (self.depth or attrs.get("aria-label") == "Fundtrace"):
            self.depth += 1
        elif tag == "a" and self.depth:
            self._open = [attrs["href"], attrs.get("aria-current") == "page", ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            href, current, label = self._open
            self.links.append((label.strip(), href, current))
            self._open = None
        elif tag == "nav" and self.depth:
            self.depth -= 1


def nav_links(html: str) -> list[tuple[str, str, bool]]:
    parser = NavLinks()
    parser.feed(html)
    return parser.links


def user_for(role: str):
    if role == "administrator":
        return get_user_model().objects.create_superuser("nav-admin", "nav-admin@example.org", PASSWORD)
    return role_user(role, username=f"nav-{role.lower()}")


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_the_places_it_may_open_and_each_opens(client, db, role):
    client.force_login(user_for(role))
    home = client.get("/admin/")
    assert home.status_code == 200
    links = nav_links(home.content.decode())
    assert [label for label, _, _ in links] == EXPECTED[role]
    for label, url, _ in links:
        page = client.get(url)
        assert page.status_code == 200, f"{role}: {label} ({url}) answered {page.status_code}"
        # The same navigation on the page it leads to, with that place marked as the current one.
        assert nav_links(page.content.decode()) == [(other, u, other == label) for other, u, _ in links]


@pytest.mark.parametrize("role", list(EXPECTED))
def test_no_page_links_to_a_place_the_role_is_refused(client, db, role):
    client.force_login(user_for(role))
    opens = {label: url for label, url in PLACES.items() if label in EXPECTED[role]}
    refused = {label: url for label, url in PLACES.items() if label not in opens}
    for url in refused.values():
        assert client.get(url).status_code == 403
    for label, url in opens.items():
        html = client.get(url).content.decode()
        for place in refused.values():
            assert f'href="{place}"' not in html, f"{role}: {label} links to {place}, which refuses the role"


def test_view_site_is_gone_from_the_admin_header(client, db):
    client.force_login(user_for("Finance"))
    html = client.get("/admin/").content.decode()
    assert "View site" not in html


def test_the_login_page_shows_no_navigation(client, db):
    assert nav_links(client.get("/admin/login/").content.decode()) == []
