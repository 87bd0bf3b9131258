import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from donors.models import ImmutableRecordError
from spending import services
from spending.models import BudgetLine, Expense, ExpenseCharge
from spending.services import NewCharge
from tests.spending.helpers import agreement_with_budget, line


@pytest.fixture
def posted(finance_user):
    uk = agreement_with_budget()
    draft = services.expense_create(
        reference="INV-9", incurred_on=dt.date(2025, 3, 1), paid_on=dt.date(2025, 3, 2), payee="Printer",
        description="Toolkit print run", amount=Decimal("250.00"), currency="GBP",
        charges=[NewCharge(line(uk, "A1"), amount=Decimal("250.00"))],
    )  # fmt: skip
    return services.expense_post(expense=draft, by=finance_user)


def test_posted_expense_and_its_charges_refuse_save_delete_and_update(posted):
    posted.amount = Decimal("1.00")
    with pytest.raises(ImmutableRecordError, match="is posted and cannot be changed; reverse it"):
        posted.save()
    with pytest.raises(ImmutableRecordError, match="cannot be deleted"):
        posted.delete()
    with pytest.raises(ImmutableRecordError):
        Expense.objects.filter(pk=posted.pk).update(payee="Someone else")
    charge = posted.charges.get()
    charge.amount = Decimal("1.00")
    with pytest.raises(ImmutableRecordError, match="charges of a posted expense cannot be changed"):
        charge.save()
    with pytest.raises(ImmutableRecordError):
        ExpenseCharge.objects.filter(pk=charge.pk).update(amount=Decimal("1.00"))
    assert Expense.objects.get(pk=posted.pk).amount == Decimal("250.00")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE spending_expense SET amount = 1 WHERE id = %s",
        "DELETE FROM spending_expense WHERE id = %s",
        "UPDATE spending_expensecharge SET amount = 1 WHERE expense_id = %s",
        "DELETE FROM spending_expensecharge WHERE expense_id = %s",
    ],
)
def test_the_database_refuses_raw_sql_changes_of_a_posted_expense(posted, sql):
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [posted.pk])
    assert Expense.objects.get(pk=posted.pk).amount == Decimal("250.00")
    assert posted.charges.get().amount == Decimal("250.00")


@pytest.mark.parametrize("table", ["spending_expense", "spending_expensecharge", "spending_budgetline"])
def test_the_database_refuses_truncate(posted, table):
    with pytest.raises(DatabaseError, match="cannot be truncated"), transaction.atomic(), connection.cursor() as c:
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own pending foreign-key checks first
        c.execute(f"TRUNCATE {table} CASCADE")


def test_the_database_refuses_raw_sql_changes_of_an_approved_budget(posted):
    a1 = BudgetLine.objects.get(pk=posted.charges.get().line_id)
    for sql in (
        "UPDATE spending_budgetline SET amount = 1 WHERE id = %s",
        "DELETE FROM spending_budgetline WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [a1.pk])
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE spending_budgetversion SET reason = 'x' WHERE id = %s", [a1.version_id])
    assert BudgetLine.objects.get(pk=a1.pk).amount == Decimal("1200.00")


def test_a_draft_expense_can_still_be_corrected(db):
    draft = services.expense_create(
        reference="INV-D", incurred_on=dt.date(2025, 3, 1), paid_on=dt.date(2025, 3, 1), payee="P",
        description="d", amount=Decimal("10.00"), currency="GBP",
    )  # fmt: skip
    Expense.objects.filter(pk=draft.pk).update(amount=Decimal("12.00"))
    assert Expense.objects.get(pk=draft.pk).amount == Decimal("12.00")
