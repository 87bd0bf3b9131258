"""The kept totals of posted charges (`PostedChargeDayTotal`) equal the ledger's own sums after every
path that posts expenses: one by one, reversals, bulk posting and the import; and a rebuild gives them back."""

import datetime as dt
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.db.models import Count, Sum

from spending import services
from spending.models import ExpenseCharge, PostedChargeDayTotal
from spending.services import NewCharge, NewExpense
from spending.totals import charge_totals_rebuild
from tests.factories import RateFactory, role_user
from tests.imports.conftest import write_file
from tests.imports.test_import_expenses import HEADER
from tests.spending.helpers import agreement_with_budget, line

from .test_budget_vs_actual import spend


def ledger_days() -> dict:
    rows = (
        ExpenseCharge.objects.filter(expense__status="posted")
        .values("agreement_id", "line_id", "expense__incurred_on", "expense__currency")
        .annotate(n=Count("*"), a=Sum("amount"), b=Sum("base_amount"), s=Sum("spot_amount"))
        .order_by()
    )
    return {
        (r["agreement_id"], r["line_id"], r["expense__incurred_on"], r["expense__currency"]): (
            r["n"], r["a"], r["b"], r["s"],
        )
        for r in rows
    }  # fmt: skip


def kept_days() -> dict:
    return {
        (t.agreement_id, t.line_id, t.incurred_on, t.currency): (t.count, t.amount, t.base_amount, t.spot_amount)
        for t in PostedChargeDayTotal.objects.all()
    }


def test_posting_reversing_and_bulk_posting_keep_the_totals_equal_to_the_ledger(db, tmp_path):
    user = role_user("Finance", username="f")
    RateFactory(currency="USD", date=dt.date(2024, 12, 1), rate=Decimal("0.79"))
    uk = agreement_with_budget(funder_ref="UK-1", indirect_rate=Decimal("7.5"))
    a1, a2 = line(uk, "A1"), line(uk, "A2")
    on = dt.date(2025, 3, 1)

    first = spend(user, "E1", "100.00", [NewCharge(a1, amount=Decimal("60.00")), NewCharge(a2, share=Decimal("40"))])
    spend(user, "E2", "33.33", [NewCharge(a1, share=Decimal("100"))], currency="USD", on=on)
    services.expense_create(  # a draft counts for nothing
        reference="D1", incurred_on=on, paid_on=on, payee="P", description="Draft", amount=Decimal("5.00"),
        currency="GBP", charges=[NewCharge(a1, amount=Decimal("5.00"))],
    )  # fmt: skip
    assert kept_days() == ledger_days()
    assert PostedChargeDayTotal.objects.get(line=a1, incurred_on=on, currency="GBP").amount == Decimal("60.00")

    services.expense_reverse(expense=first, by=user, reason="Duplicate invoice", on=on)
    assert kept_days() == ledger_days()
    assert PostedChargeDayTotal.objects.get(line=a1, incurred_on=on, currency="GBP").amount == Decimal("0.00")

    services.expenses_post_bulk(
        expenses=[
            NewExpense(
                reference=f"B{n}", incurred_on=on + dt.timedelta(days=n % 3), paid_on=on + dt.timedelta(days=3),
                payee="P", description="Bulk", amount=Decimal("10.01"), currency=("GBP", "USD")[n % 2], rate=None,
                charges=[NewCharge(a1, share=Decimal("50")), NewCharge(a2, share=Decimal("50"))],
            )
            for n in range(7)
        ],
        by=user,
        chunk_size=3,
    )  # fmt: skip
    path = write_file(tmp_path, "spend.csv", HEADER + "I1,2025-03-02,2025-03-02,P,Imported,12.34,GBP,,UK-1,A2,,\n")
    call_command("import_data", "expenses", path, "--post", stdout=StringIO(), stderr=StringIO())
    kept = kept_days()
    assert kept == ledger_days()
    assert sum(count for count, *_ in kept.values()) == ExpenseCharge.objects.filter(expense__status="posted").count()

    PostedChargeDayTotal.objects.filter(line=a2).delete()  # lost, then recomputed from the ledger
    charge_totals_rebuild()
    assert kept_days() == kept
