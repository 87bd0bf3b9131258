"""Where spend shows in reports: the output statement's direct, indirect and full cost and what
remains of the budget; the donor summary's spend on each output it funded, beside what was
allocated, in the PDF and the HTML version. Figures checked against plain sums of the charges."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from donors.services import donation_post
from reports.figures import donor_summary_snapshot, output_statement_snapshot
from reports.models import ReportRun
from reports.renderers import render
from reports.services import report_run_generate
from spending.models import ExpenseCharge
from spending.services import NewCharge
from tests.factories import AllocationFactory, DonationFactory, DonorFactory, OutputFactory, role_user
from tests.spending.helpers import agreement_with_budget, line
from tests.spending.test_budget_vs_actual import spend

from .helpers import figure, pdf_text, shown

END = dt.date(2025, 12, 31)


@pytest.fixture
def spent_output(db, finance_user):
    """An output with a budget of 5,000.00, 1,500.00 allocated from one donor, and 1,000.00 of direct
    spend on it under an agreement with a 10% indirect rate (and 300.00 elsewhere, not on it)."""
    output = OutputFactory(budget=Decimal("5000.00"))
    donor = DonorFactory()
    gift = donation_post(
        donation=DonationFactory(
            donor=donor, amount=Decimal("1500.00"), currency="GBP", received_on=dt.date(2025, 2, 1)
        ),
        by=finance_user,
    )
    AllocationFactory(output=output, donation=gift, amount=Decimal("1500.00"), allocated_on=dt.date(2025, 2, 2))
    uk = agreement_with_budget(funder_ref="UK", indirect_rate=Decimal("10"))
    spend(finance_user, "S1", "1300.00", [NewCharge(line(uk, "A1"), amount=Decimal("700.00"), output=output),
                                          NewCharge(line(uk, "A2"), amount=Decimal("300.00"), output=output),
                                          NewCharge(line(uk, "A2"), amount=Decimal("300.00"))])  # fmt: skip
    spend(
        finance_user,
        "S2",
        "99.00",
        [NewCharge(line(uk, "A1"), amount=Decimal("99.00"), output=output)],
        on=dt.date(2026, 1, 10),
    )  # fmt: skip: after the period end
    return output, donor


def amount(value: dict) -> Decimal:
    return Decimal(value["amount"])


def test_output_statement_shows_direct_indirect_full_cost_and_remaining(spent_output):
    output, _ = spent_output
    snap = output_statement_snapshot(output=output, as_of=END)
    direct = sum(
        ExpenseCharge.objects.filter(output=output, expense__status="posted", expense__incurred_on__lte=END)
        .values_list("base_amount", flat=True),
        Decimal(0),
    )  # fmt: skip
    assert direct == Decimal("1000.00")
    assert amount(figure(snap, "spent_direct")["value"]) == direct
    assert amount(figure(snap, "spent_indirect")["value"]) == Decimal("100.00")
    assert amount(figure(snap, "full_cost")["value"]) == Decimal("1100.00")
    assert amount(figure(snap, "remaining")["value"]) == Decimal("3900.00")
    assert amount(figure(snap, "allocated")["value"]) == Decimal("1500.00")
    text = pdf_text(render(snap))
    for key in ("spent_direct", "spent_indirect", "full_cost", "remaining"):
        assert shown(figure(snap, key)["value"]) in text
    assert "Full cost to date" in text


def test_donor_summary_shows_spend_beside_allocated_for_each_output(spent_output):
    output, donor = spent_output
    snap = donor_summary_snapshot(donor=donor, start=dt.date(2025, 1, 1), end=END)
    assert snap["output_spend"] == [
        {
            "output_id": output.pk,
            "direct": {"amount": "1000.00", "currency": "GBP"},
            "indirect": {"amount": "100.00", "currency": "GBP"},
            "full_cost": {"amount": "1100.00", "currency": "GBP"},
        }
    ]
    text = " ".join(pdf_text(render(snap)).split())
    assert (
        "Spent on this output by 31 Dec 2025, from all its funding: GBP 1,100.00 (GBP 1,000.00 direct costs, "
        "GBP 100.00 indirect costs), against GBP 1,500.00 allocated." in text
    )


def test_donor_summary_html_version_shows_the_same_line(spent_output, client):
    output, donor = spent_output
    run = ReportRun.objects.create(
        kind="donor_summary", donor=donor, period_start=dt.date(2025, 1, 1), period_end=END,
        requested_by=role_user("Finance", username="f2"),
    )  # fmt: skip
    run = report_run_generate(run_id=run.pk)
    assert run.status == ReportRun.Status.DONE, run.error
    client.force_login(role_user("Finance", username="reader"))
    page = client.get(reverse("reports:run_html", args=[run.pk])).content.decode()
    assert "from all its funding: GBP 1,100.00 (GBP 1,000.00 direct costs, GBP 100.00 indirect costs)" in page
    assert "against GBP 1,500.00 allocated." in page


def test_an_output_with_no_spend_shows_zero_cost_and_its_whole_budget_remaining(db):
    output = OutputFactory(budget=Decimal("800.00"))
    snap = output_statement_snapshot(output=output, as_of=END)
    assert amount(figure(snap, "full_cost")["value"]) == Decimal("0.00")
    assert amount(figure(snap, "remaining")["value"]) == Decimal("800.00")


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en-gb", "Nothing had been spent on this output by 31 Dec 2025, against GBP 1,500.00 allocated."),
        (
            "fr",
            "Rien n'avait encore été dépensé pour cette réalisation au 31 décembre 2025, pour GBP 1 500,00 affectés.",
        ),
    ],
)
def test_donor_summary_says_nothing_was_spent_on_an_output_without_spend(db, finance_user, language, line):
    output = OutputFactory(budget=Decimal("5000.00"))
    donor = DonorFactory(language=language)
    gift = donation_post(
        donation=DonationFactory(
            donor=donor, amount=Decimal("1500.00"), currency="GBP", received_on=dt.date(2025, 2, 1)
        ),
        by=finance_user,
    )
    AllocationFactory(output=output, donation=gift, amount=Decimal("1500.00"), allocated_on=dt.date(2025, 2, 2))
    snap = donor_summary_snapshot(donor=donor, start=dt.date(2025, 1, 1), end=END)
    assert amount(snap["output_spend"][0]["full_cost"]) == 0
    text = " ".join(pdf_text(render(snap)).split()).replace("\xa0", " ").replace("\u202f", " ")
    assert line in text
    assert "GBP 0.00 direct costs" not in text and "0,00 de coûts directs" not in text
