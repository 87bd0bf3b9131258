"""The dashboard's spend: each programme's budget against what its outputs cost (direct and
indirect), and the agreements whose budget against actual has a line past its threshold, read in a
few queries whatever the number of agreements."""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from lxml import html as lxml_html

from dashboard.figures import UNCHARGED, agreements_flagged, spend_by_programme
from spending.selectors import budget_vs_actual, budgets_vs_actual
from spending.services import NewCharge
from tests.factories import OutputFactory, ProgrammeFactory, role_user
from tests.spending.helpers import agreement_with_budget, line
from tests.spending.test_budget_vs_actual import spend

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
URL = "/dashboard/"


def two_programmes(by):
    """Safety (two outputs, budgets 1,000 and 500) and Research (one output, budget 2,000.50); spend on
    Safety under a 10% agreement, on Research under a 0% one, and 40.00 charged to no output."""
    safety, research = ProgrammeFactory(name="Safety"), ProgrammeFactory(name="Research")
    s1 = OutputFactory(programme=safety, budget=Decimal("1000.00"))
    s2 = OutputFactory(programme=safety, budget=Decimal("500.00"))
    r1 = OutputFactory(programme=research, budget=Decimal("2000.50"))
    ten = agreement_with_budget(funder_ref="TEN", indirect_rate=Decimal("10"))
    zero = agreement_with_budget(funder_ref="ZERO")
    spend(by, "S1", "300.00", [NewCharge(line(ten, "A1"), amount=Decimal("200.00"), output=s1),
                               NewCharge(line(ten, "A2"), amount=Decimal("60.00"), output=s2),
                               NewCharge(line(ten, "A2"), amount=Decimal("40.00"))])  # fmt: skip
    spend(by, "S2", "123.45", [NewCharge(line(zero, "A1"), amount=Decimal("123.45"), output=r1)],
          on=dt.date(2025, 6, 1))  # fmt: skip
    return safety, research, ten, zero


def test_spend_by_programme_is_budget_against_full_cost(db, finance_user):
    safety, *_ = two_programmes(finance_user)
    rows = {r["label"]: r for r in spend_by_programme(start=START, end=END)}
    assert rows["Safety"] == {"label": "Safety", "budget": Decimal("1500.00"), "period": Decimal("286.00"),
                              "to_date": Decimal("286.00"), "pct": Decimal("19.1")}  # fmt: skip
    assert rows["Research"] == {"label": "Research", "budget": Decimal("2000.50"), "period": Decimal("123.45"),
                                "to_date": Decimal("123.45"), "pct": Decimal("6.2")}  # fmt: skip
    assert (rows[UNCHARGED]["budget"], rows[UNCHARGED]["to_date"]) == (None, Decimal("44.00"))
    # Narrowed to one programme: its row alone.
    assert [r["label"] for r in spend_by_programme(start=START, end=END, programme=safety)] == ["Safety"]
    # A later period: nothing spent in it, the same to date.
    later = {r["label"]: r for r in spend_by_programme(start=dt.date(2025, 7, 1), end=END)}
    assert (later["Research"]["period"], later["Research"]["to_date"]) == (Decimal("0.00"), Decimal("123.45"))


def test_flagged_agreements_are_those_with_a_line_past_the_threshold(db, finance_user):
    *_, ten, zero = two_programmes(finance_user)
    quiet = agreement_with_budget(funder_ref="QUIET")
    # QUIET spends its 2025 staff and travel budget exactly: no line is flagged.
    spend(finance_user, "Q1", "1800.00", [NewCharge(line(quiet, "A1"), amount=Decimal("1200.00")),
                                          NewCharge(line(quiet, "A2"), amount=Decimal("600.00"))])  # fmt: skip
    found = agreements_flagged(start=START, end=END)
    refs = [f["agreement"].funder_ref for f in found["agreements_flagged"]]
    assert sorted(refs) == ["TEN", "ZERO"] and found["agreements_flagged_count"] == 2
    for f in found["agreements_flagged"]:
        assert [x.code for x in f["lines"]] == [x.code for x in budget_vs_actual(f["agreement"], start=START,
                                                                                   end=END).flagged]  # fmt: skip


def test_budgets_vs_actual_equals_each_agreements_and_reads_in_the_same_queries_for_more(db, finance_user):
    agreements = list(two_programmes(finance_user)[2:])
    with CaptureQueriesContext(connection) as two:
        together = budgets_vs_actual(agreements, start=START, end=END)
    more = []
    for n in range(3):
        more.append(agreement_with_budget(funder_ref=f"MORE-{n}", indirect_rate=Decimal("7")))
        spend(finance_user, f"M{n}", "10.00", [NewCharge(line(more[-1], "A1"), amount=Decimal("10.00"))])
    with CaptureQueriesContext(connection) as five:
        budgets_vs_actual(agreements + more, start=START, end=END)
    assert len(two) == len(five)
    for figures, agreement in zip(together, agreements, strict=True):
        alone = budget_vs_actual(agreement, start=START, end=END)
        assert figures.lines == alone.lines
        assert (figures.spent_to_date, figures.received_to_date, figures.method_text) == (
            alone.spent_to_date, alone.received_to_date, alone.method_text,
        )  # fmt: skip


def test_the_dashboard_shows_both_tables_with_links_to_the_agreements(client, db, finance_user):
    *_, ten, _ = two_programmes(finance_user)
    client.force_login(role_user("Leadership", username="lead"))
    page = client.get(URL, {"start": START.isoformat(), "end": END.isoformat()})
    assert page.status_code == 200
    tree = lxml_html.fromstring(page.content)
    spend_rows = [
        [c.text_content().strip() for c in tr.xpath("./td")]
        for tr in tree.xpath("//table[@id='spend-by-programme']/tbody/tr")
    ]
    assert ["Safety", "1,500.00", "286.00", "286.00", "19.1%"] in spend_rows
    assert [UNCHARGED, "—", "44.00", "44.00", "—"] in spend_rows
    links = tree.xpath("//table[@id='agreements-flagged']//a/@href")
    assert reverse("admin:spending_agreement_change", args=[ten.pk]) in links
    assert "2 agreements" in tree.xpath("//*[@data-testid='flagged-count']")[0].text_content()
