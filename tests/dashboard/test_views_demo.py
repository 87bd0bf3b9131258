"""The dashboard on the demo's data: its figures are the reports' figures."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice.money import format_money, money_round
from donors.models import Pledge
from grants.models import Output, Programme
from grants.selectors import output_funding, unallocated_balance
from reports.figures import portfolio_snapshot
from reports.models import ReportRun
from tests.factories import (
    role_user,
)
from tests.reports.helpers import closing_rate, ledger_grow, pledge_outstanding, pledges_at, posted, total

from .conftest import END, START, query

URL = "/dashboard/"


def test_page_carries_a_strict_csp_and_no_inline_style_or_script(client, db, dashboard_demo):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    response = client.get(URL, query())
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "style-src 'self'" in csp and "script-src 'self'" in csp
    html = response.content.decode()
    assert "style=" not in html and "<style" not in html
    assert "<script>" not in html and "<script src=" in html
    assert html.count("<svg") == 4


def test_key_figures_are_the_portfolio_report_figures(client, dashboard_demo):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    html = client.get(URL, query()).content.decode()
    snap = portfolio_snapshot(start=START, end=END)
    for f in snap["figures"]:
        assert f'data-figure="{f["key"]}"' in html
        assert format_money(Decimal(f["value"]["amount"]), "GBP") in html
    balance = unallocated_balance()
    assert format_money(balance.unrestricted, "GBP") in html
    assert format_money(balance.restricted, "GBP") in html


def test_programme_filter_narrows_outputs_and_allocations(client, dashboard_demo):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    programme = Programme.objects.get(code="RPT-MNR")
    response = client.get(URL, query(programme=programme.pk))
    figures = response.context["f"]
    funded = output_funding(programme=programme, end=END)
    assert [r["label"] for r in figures["by_programme"]] == [programme.name]
    assert figures["by_programme"][0]["funded"] == sum(o.allocated for o in funded)
    everything = client.get(URL, query()).context["f"]
    assert figures["figure"]["allocated"] < everything["figure"]["allocated"]


def test_programme_filter_counts_money_restricted_to_the_programme(client, dashboard_demo):
    """Received and pledged for a programme: its restricted pledges and the donations paid against them."""
    client.force_login(role_user("Leadership", username="dash-leadership"))
    restricted = Pledge.objects.filter(restricted_programme__isnull=False, donations__status="posted").first()
    programme = restricted.restricted_programme
    scope = Pledge.objects.filter(Q(restricted_programme=programme) | Q(restricted_output__programme=programme))
    start = dt.date(2021, 1, 1)  # the demo's restricted pledges start before the report tests' year
    figures = client.get(URL, query(start=start, programme=programme.pk)).context["f"]
    received = posted(received_on__gte=start, received_on__lte=END, pledge__in=scope)
    assert figures["figure"]["received"] == total(received, "base_amount") > 0
    started = [p for p in pledges_at(END).filter(pk__in=scope) if p.start_date >= start]
    pledged = money_round(sum(p.total * closing_rate(p.currency, END) for p in started))
    assert figures["figure"]["pledged"] == pledged > 0
    outstanding = money_round(
        sum(pledge_outstanding(p, END)[0] * closing_rate(p.currency, END) for p in pledges_at(END).filter(pk__in=scope))
    )
    assert figures["figure"]["outstanding"] == outstanding
    everything = client.get(URL, query(start=start)).context["f"]
    assert figures["figure"]["received"] < everything["figure"]["received"]
    assert figures["figure"]["pledged"] < everything["figure"]["pledged"]


def test_a_bad_period_shows_an_error_and_the_default_period(client, db):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    response = client.get(URL, {"start": "2025-12-31", "end": "2025-01-01"})
    assert response.status_code == 200
    assert b"The period ends before it starts." in response.content


def test_overdue_instalments_link_to_the_pledge_admin_page(client, dashboard_demo):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    response = client.get(URL, query())
    overdue = response.context["f"]["overdue_instalments"]
    assert overdue, "the demo has overdue instalments"
    from donors.selectors import pledge_instalment_states

    first = overdue[0]
    state = next(s for s in pledge_instalment_states(first.pledge) if s.instalment.pk == first.pk)
    assert state.status == "overdue" and first.owed == first.amount - state.covered
    assert reverse("admin:donors_pledge_change", args=[first.pledge_id]) in response.content.decode()


def test_query_count_does_not_grow_with_data(client, dashboard_demo):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    client.get(URL, query())  # warm the session and content types
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL, query()).status_code == 200
    ledger_grow(
        ref_prefix="DON-8", count=6, by=role_user("Finance", username="dash-finance"),
        pledge_start=dt.date(2024, 2, 1), pledge_end=dt.date(2025, 1, 31),
    )  # fmt: skip
    with CaptureQueriesContext(connection) as large:
        assert client.get(URL, query()).status_code == 200
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]


def test_generate_pdf_then_poll_its_status(client, dashboard_demo, django_capture_on_commit_callbacks):
    client.force_login(role_user("Leadership", username="dash-leadership"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dashboard:report_request"), query(), HTTP_ACCEPT="application/json")
    assert response.status_code == 202
    run = ReportRun.objects.get(pk=response.json()["id"])
    assert (run.kind, run.period_start, run.period_end) == ("portfolio", START, END)
    status = client.get(response.json()["status_url"]).json()
    assert status["status"] == "done", status
    assert status["download_url"] == reverse("reports:run_download", args=[run.pk])


@pytest.mark.parametrize("role", ["Leadership", "Finance", "Auditor"])
def test_a_stored_control_character_in_a_name_does_not_break_the_page(client, dashboard_demo, role):
    """Written past the validators (raw update): the charts show U+FFFD instead of answering 500."""
    Programme.objects.filter(code="RPT-GTA").update(name="Global\x01Threat")
    Output.objects.filter(title="Global Threat Assessment 2025").update(title="Threat\x01Assessment")
    client.force_login(role_user(role, username=f"dash-{role.lower()}"))
    response = client.get(URL, query())
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") == 4
    assert "Global\ufffdThreat" in html and "Threat\ufffdAssessment" in html
