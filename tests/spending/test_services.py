import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from backoffice.errors import LedgerError
from grants.models import ReportingObligation
from spending import services
from spending.models import Agreement, Expense, ExpenseCharge
from spending.selectors import revision_flagged, revision_moves
from spending.services import NewCharge, NewLine
from tests.factories import OutputFactory, PledgeFactory, RateFactory
from tests.spending.helpers import START, agreement_with_budget, line


def expense(reference="INV-1", amount="100.00", currency="GBP", incurred_on=dt.date(2025, 3, 1), charges=(), **kw):
    return services.expense_create(
        reference=reference, incurred_on=incurred_on, paid_on=kw.pop("paid_on", incurred_on), payee="Hotel Europa",
        description="Summit venue", amount=Decimal(amount), currency=currency, charges=list(charges), **kw,
    )  # fmt: skip


def message(error) -> str:
    return " ".join(m for ms in error.value.message_dict.values() for m in ms)


# Agreements ---------------------------------------------------------------------------


def test_agreement_takes_its_pledges_currency_and_creates_its_reporting_obligations(db):
    pledge = PledgeFactory(currency="USD", start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 12, 31))
    agreement = services.agreement_create(
        pledge=pledge, funder_ref="SF-1", start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 12, 31),
        reporting_frequency=Agreement.Frequency.QUARTERLY, reporting_days_after=30,
    )  # fmt: skip
    assert agreement.currency == "USD"
    financial = ReportingObligation.objects.filter(pledge=pledge, kind="financial").order_by("due_date")
    assert [o.period_end for o in financial] == [
        dt.date(2025, 3, 31), dt.date(2025, 6, 30), dt.date(2025, 9, 30), dt.date(2025, 12, 31),
    ]  # fmt: skip
    assert financial[0].due_date == dt.date(2025, 4, 30)


def test_a_pledge_has_one_agreement(db):
    agreement = agreement_with_budget()
    with pytest.raises(LedgerError, match="already has an agreement"):
        services.agreement_create(pledge=agreement.pledge, funder_ref="X", start_date=START, end_date=START)


def test_an_agreement_in_another_currency_than_its_pledge_is_refused(db):
    agreement = agreement_with_budget()
    agreement.currency = "EUR"
    with pytest.raises(Exception, match="in its pledge's currency, GBP"):
        agreement.full_clean()


# Budgets ------------------------------------------------------------------------------


def test_an_approved_budget_is_immutable_and_a_revision_is_a_new_version(db):
    agreement = agreement_with_budget()
    original = services.current_budget(agreement)
    a1 = line(agreement, "A1")
    a1.amount = Decimal("1.00")
    with pytest.raises(Exception, match="approved; make a revision"):
        a1.save()
    with pytest.raises(LedgerError, match="is approved; make a revision"):
        services.budget_line_add(version=original, code="Z", category="other", year=2025, amount=Decimal("1.00"))
    revision = services.budget_revision_start(agreement=agreement, reason="Summit moved")
    assert revision.number == 2 and revision.lines.count() == original.lines.count()
    with pytest.raises(LedgerError) as error:
        services.budget_version_approve(version=revision, approved_on=dt.date(2025, 6, 1))
    assert "A revision needs who approved it at the funder." in message(error)
    services.budget_version_approve(version=revision, approved_on=dt.date(2025, 6, 1), approved_by_funder="J. Smith")
    assert services.current_budget(agreement) == revision


def test_a_revision_moving_a_line_past_the_threshold_is_flagged(db):
    agreement = agreement_with_budget()
    revision = services.budget_revision_start(agreement=agreement, reason="More travel")
    revision.lines.filter(code="A2", year=2025).update(amount=Decimal("800.00"))  # 1,200 -> 1,400: +16.67%
    revision.lines.filter(code="A1", year=2025).update(amount=Decimal("1100.00"))  # 2,400 -> 2,300: -4.17%
    moves = {m.code: m for m in revision_moves(revision)}
    assert moves["A2"].move == Decimal("200.00") and moves["A2"].pct == Decimal("16.67") and moves["A2"].flagged
    assert moves["A1"].move == Decimal("-100.00") and moves["A1"].pct == Decimal("-4.17") and not moves["A1"].flagged
    assert [m.code for m in revision_flagged(revision)] == ["A2"]


def test_a_line_outside_the_agreement_years_is_refused(db):
    agreement = agreement_with_budget()
    draft = services.budget_revision_start(agreement=agreement)
    with pytest.raises(LedgerError, match="2031 is outside the agreement's period"):
        services.budget_line_add(version=draft, code="Z", category="other", year=2031, amount=Decimal("1.00"))


# Charges ------------------------------------------------------------------------------


def test_an_expense_is_split_between_two_agreements_by_share(db):
    uk, us = agreement_with_budget(funder_ref="UK-1"), agreement_with_budget(funder_ref="US-1")
    summit = expense(amount="100.01", charges=[
        NewCharge(line(uk, "A2"), share=Decimal("50")), NewCharge(line(us, "A2"), share=Decimal("50")),
    ])  # fmt: skip
    amounts = sorted(summit.charges.values_list("agreement__funder_ref", "amount"))
    assert amounts == [("UK-1", Decimal("50.01")), ("US-1", Decimal("50.00"))]


def test_charges_never_exceed_the_expense(db):
    uk, us = agreement_with_budget(funder_ref="UK-1"), agreement_with_budget(funder_ref="US-1")
    with pytest.raises(LedgerError) as error:
        expense(amount="100.00", charges=[
            NewCharge(line(uk, "A1"), amount=Decimal("60.00")), NewCharge(line(us, "A1"), amount=Decimal("40.01")),
        ])  # fmt: skip
    assert "The charges add up to 100.01 GBP, more than the expense's 100.00 GBP." in message(error)
    assert not Expense.objects.exists()  # nothing partial: the draft went with the refused charges
    with pytest.raises(LedgerError, match="The shares add up to 100.5%"):
        expense(
            charges=[NewCharge(line(uk, "A1"), share=Decimal("60")), NewCharge(line(us, "A1"), share=Decimal("40.5"))]
        )


def test_a_charge_outside_the_agreement_period_is_refused(db):
    uk = agreement_with_budget()
    with pytest.raises(LedgerError) as error:
        expense(incurred_on=dt.date(2024, 12, 31), charges=[NewCharge(line(uk, "A1"), amount=Decimal("10.00"))])
    assert error.value.message_dict.keys() == {"incurred_on"}
    assert "incurred on 2024-12-31, outside agreement UK-1's period (2025-01-01 to 2026-12-31)" in message(error)


def test_a_charge_to_a_line_not_in_the_current_budget_is_refused(db):
    uk = agreement_with_budget()
    old_line = line(uk, "A1")
    revision = services.budget_revision_start(agreement=uk, reason="r")
    services.budget_version_approve(version=revision, approved_on=dt.date(2025, 2, 1), approved_by_funder="F")
    with pytest.raises(LedgerError) as error:
        expense(charges=[NewCharge(old_line, amount=Decimal("10.00"))])
    assert error.value.message_dict.keys() == {"line"}
    assert "the line is not in agreement UK-1's current budget (version 2)" in message(error)
    expense(charges=[NewCharge(line(uk, "A1"), amount=Decimal("10.00"))])  # the current line is fine


def test_indirect_costs_cannot_be_charged(db):
    uk = agreement_with_budget(indirect_rate=Decimal("7"))
    with pytest.raises(LedgerError, match="indirect costs are worked out from the agreement's rate, never charged"):
        expense(charges=[NewCharge(line(uk, "IND"), amount=Decimal("10.00"))])


def test_a_charge_to_another_output_than_its_lines_is_refused(db):
    output, other = OutputFactory(), OutputFactory()
    uk = agreement_with_budget(
        lines=[NewLine(code="E1", category="events", year=2025, amount=Decimal("9"), output=output)]
    )
    with pytest.raises(LedgerError, match="line E1 is for output"):
        expense(charges=[NewCharge(line(uk, "E1"), amount=Decimal("5.00"), output=other)])
    charge = expense(charges=[NewCharge(line(uk, "E1"), amount=Decimal("5.00"))]).charges.get()
    assert charge.output == output  # the line's output, by default


# Posting and reversal -----------------------------------------------------------------


def test_posting_freezes_the_rate_and_base_amount_by_the_donations_rule(db, finance_user):
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.80000000"), source="ECB")
    uk = agreement_with_budget()
    spent = expense(amount="100.01", currency="USD", charges=[NewCharge(line(uk, "A1"), share=Decimal("100"))])
    posted = services.expense_post(expense=spent, by=finance_user)
    assert (posted.rate, posted.rate_date, posted.rate_source) == (Decimal("0.8"), dt.date(2025, 2, 1), "ECB")
    assert posted.base_amount == Decimal("80.01")  # 80.008, half up
    charge = posted.charges.get()
    assert (charge.base_amount, charge.spot_amount) == (Decimal("80.01"), Decimal("80.01"))
    RateFactory(currency="USD", date=dt.date(2025, 2, 15), rate=Decimal("0.9"))
    assert Expense.objects.get(pk=posted.pk).base_amount == Decimal("80.01")


def test_posting_without_charges_or_paid_in_the_future_is_refused(db, finance_user):
    with pytest.raises(LedgerError, match="is charged to no budget line"):
        services.expense_post(expense=expense(), by=finance_user)
    uk = agreement_with_budget()
    later = dt.date.today() + dt.timedelta(days=3)
    future = expense(reference="INV-2", incurred_on=dt.date(2025, 3, 1), paid_on=later,
                     charges=[NewCharge(line(uk, "A1"), amount=Decimal("1.00"))])  # fmt: skip
    with pytest.raises(LedgerError, match="is in the future"):
        services.expense_post(expense=future, by=finance_user)
    assert not Expense.objects.posted().exists()


def test_reversal_negates_the_expense_and_its_charges_and_needs_a_reason(db, finance_user):
    uk = agreement_with_budget()
    posted = services.expense_post(
        expense=expense(charges=[NewCharge(line(uk, "A1"), amount=Decimal("60.00"))]), by=finance_user
    )
    with pytest.raises(ValidationError) as error:
        services.expense_reverse(expense=posted, by=finance_user, reason=" ")
    assert "A reversal needs a reason" in message(error)
    reversal = services.expense_reverse(expense=posted, by=finance_user, reason="Duplicate invoice")
    assert reversal.is_posted and reversal.amount == Decimal("-100.00") and reversal.base_amount == Decimal("-100.00")
    assert reversal.reversal_reason == "Duplicate invoice"
    assert list(reversal.charges.values_list("amount", "base_amount")) == [(Decimal("-60.00"), Decimal("-60.00"))]
    with pytest.raises(LedgerError, match="has already been reversed"):
        services.expense_reverse(expense=posted, by=finance_user, reason="again")
    with pytest.raises(LedgerError, match="a reversal cannot be reversed"):
        services.expense_reverse(expense=reversal, by=finance_user, reason="again")
    assert ExpenseCharge.objects.filter(agreement=uk).count() == 2


def test_charges_of_a_posted_expense_cannot_be_replaced(db, finance_user):
    uk = agreement_with_budget()
    posted = services.expense_post(
        expense=expense(charges=[NewCharge(line(uk, "A1"), amount=Decimal("60.00"))]), by=finance_user
    )
    with pytest.raises(LedgerError, match="is posted; reverse it to change its charges"):
        services.expense_charges_set(expense=posted, charges=[NewCharge(line(uk, "A2"), amount=Decimal("1.00"))])
