import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from donors.services import donation_post
from tests.factories import (
    DonationFactory,
    DonorFactory,
    ObligationFactory,
    OutputFactory,
    PledgeFactory,
    ProgrammeFactory,
    role_user,
)

from .conftest import query

URL = "/dashboard/"


@pytest.mark.parametrize("role", ["Leadership", "Finance", "Auditor"])
def test_leadership_finance_and_auditor_see_the_dashboard(client, db, role):
    client.force_login(role_user(role, username=f"dash-{role.lower()}"))
    response = client.get(URL)
    assert response.status_code == 200
    assert b"Funding portfolio" in response.content


def test_programme_staff_are_refused(client, db):
    client.force_login(role_user("Programme", username="dash-programme"))
    assert client.get(URL).status_code == 403
    assert client.post(reverse("dashboard:report_request"), query()).status_code == 403


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_auditor_sees_figures_but_no_pdf_button(client, db):
    client.force_login(role_user("Auditor", username="dash-auditor"))
    assert b"pdf-button" not in client.get(URL).content
    assert client.post(reverse("dashboard:report_request"), query()).status_code == 403


# Issue 16 --------------------------------------------------------------------------------


def _rows(html: str, table_id: str) -> list[str]:
    table = html[html.index(f'<table id="{table_id}">') :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)


def _svg(html: str, key: str) -> str:
    start = html.index(f'id="{key}-title"')
    return html[start : html.index("</svg>", start)]


def test_overdue_reports_are_listed_first_with_their_count_and_how_overdue(client, db):
    today = timezone.localdate()
    ObligationFactory(due_date=today + dt.timedelta(days=5), pledge=PledgeFactory(ref="PLG-DUE"))
    ObligationFactory(due_date=today - dt.timedelta(days=3), pledge=PledgeFactory(ref="PLG-LATE"))
    ObligationFactory(due_date=today - dt.timedelta(days=40), pledge=PledgeFactory(ref="PLG-OLDEST"))
    ObligationFactory(due_date=today - dt.timedelta(days=90), status="submitted", submitted_on=today)
    ObligationFactory(due_date=today - dt.timedelta(days=90), status="waived")
    ObligationFactory(due_date=today + dt.timedelta(days=31))  # beyond the 30 days
    client.force_login(role_user("Leadership", username="dash-leadership"))
    html = client.get(URL).content.decode()

    rows = [r for r in _rows(html, "obligations") if "PLG-" in r]
    assert [re.search(r"PLG-[A-Z]+", r).group() for r in rows] == ["PLG-OLDEST", "PLG-LATE", "PLG-DUE"]
    assert "40 days overdue" in rows[0] and "3 days overdue" in rows[1] and "overdue" not in rows[2]
    assert [r.count('data-state="overdue"') for r in rows] == [1, 1, 0]
    counts = re.search(r'data-testid="obligation-counts">(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", counts) == "2 overdue · 1 due in the next 30 days"
    assert "No report is" not in html


def test_more_overdue_reports_than_shown_link_to_all_of_them(client, db):
    today = timezone.localdate()
    for days in range(1, 14):
        ObligationFactory(due_date=today - dt.timedelta(days=days))
    client.force_login(role_user("Leadership", username="dash-leadership"))
    html = client.get(URL).content.decode()
    assert len([r for r in _rows(html, "obligations") if 'data-state="overdue"' in r]) == 10
    link = reverse("admin:grants_reportingobligation_changelist") + "?due=overdue"
    assert f'<a href="{link}">All 13 overdue reports</a>' in html


def test_a_cancelled_output_is_not_a_funding_gap(client, db):
    programme = ProgrammeFactory(name="Convening")
    OutputFactory(programme=programme, title="Regional workshop: Central Asia", status="cancelled",
                  budget=Decimal("170000.00"))  # fmt: skip
    OutputFactory(programme=programme, title="Webinar series", status="in_progress", budget=Decimal("90000.00"))
    client.force_login(role_user("Leadership", username="dash-leadership"))
    response = client.get(URL, query())
    assert [o.title for o in response.context["f"]["gaps"]] == ["Webinar series"]
    html = response.content.decode()
    gaps = html[html.index('id="chart-gaps"') :]
    gaps = gaps[: gaps.index("</figure>")]
    assert "Webinar series" in gaps and "Central Asia" not in gaps


def test_long_output_names_are_shortened_at_word_boundaries_with_the_full_name_on_hover(client, db):
    long_names = [
        "Research brief: livestreamed child sexual abuse",
        "Model National Response framework, second edition",
    ]
    for n, title in enumerate(long_names):
        OutputFactory(title=title, budget=Decimal(150000 + n))
    client.force_login(role_user("Leadership", username="dash-leadership"))
    html = client.get(URL, query()).content.decode()
    svg = _svg(html, "chart-gaps")
    labels = dict(re.findall(r"<text[^>]*><title>([^<]*)</title>([^<]*)</text>", svg))
    assert labels == {
        "Research brief: livestreamed child sexual abuse": "Research brief: livestreamed child…",
        "Model National Response framework, second edition": "Model National Response framework…",
    }
    texts = re.findall(r"<text[^>]*>(?:<title>[^<]*</title>)?([^<]*)</text>", svg)
    assert all(t in labels.values() or not t.endswith("…") for t in texts)
    for title in long_names:  # the data table names each output in full
        assert f"<td>{title}</td>" in html


def test_each_kind_of_donor_keeps_its_pie_colour_in_every_view(client, db):
    """The first half of 2025 has civil society and company money, the second only company
    money: company is the second slice in one view and the first in the other."""
    user = role_user("Finance", username="dash-finance")
    civil, company = DonorFactory(kind="civil_society"), DonorFactory(kind="company")
    for donor, day, amount in [(civil, dt.date(2025, 2, 1), "100.00"), (company, dt.date(2025, 3, 1), "200.00"),
                               (company, dt.date(2025, 9, 1), "300.00")]:  # fmt: skip
        donation_post(donation=DonationFactory(donor=donor, received_on=day, amount=Decimal(amount)), by=user)
    client.force_login(role_user("Leadership", username="dash-leadership"))

    def colours(start, end):
        svg = _svg(client.get(URL, query(start=start, end=end)).content.decode(), "chart-kind")
        swatches = re.findall(r'<rect [^>]*fill="([^"]+)"[^>]*/>\s*<text[^>]*>([^<]+)</text>', svg)
        return {label: fill for fill, label in swatches}

    first_half = colours(dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    second_half = colours(dt.date(2025, 7, 1), dt.date(2025, 12, 31))
    assert list(first_half) == ["Civil society", "Company"] and list(second_half) == ["Company"]
    assert second_half["Company"] == first_half["Company"] != first_half["Civil society"]
