"""Posted charges kept summed beside the ledger (`PostedChargeDayTotal`), so that budget against actual
reads one row per agreement, line, day and currency instead of every charge.

Every path that posts expenses adds them inside its own transaction: `expense_post` and
`expense_reverse` through `charge_totals_add`; bulk posting (`ExpensesBulk`: the expense import,
`seed_demo`), which writes its rows with COPY, sums the charges as it writes them and adds the sums
with `backoffice.totals.groups_upsert`. A path that posts without adding them makes the
financial report disagree with the ledger; the tests compare the two.
"""

from django.db import transaction
from django.db.models import Count, F, Sum

from backoffice.totals import totals_upsert

from .models import ExpenseCharge, PostedChargeDayTotal


@transaction.atomic
def charge_totals_add(*, expense_ids) -> None:
    """Add the charges of these expenses (one posted or reversed at a time), posted and never added
    before, to the totals: one statement."""
    _add(ExpenseCharge.objects.filter(expense_id__in=expense_ids))


@transaction.atomic
def charge_totals_rebuild() -> None:
    """Recompute the totals from the ledger (to repair them, or after a load that did not add them)."""
    PostedChargeDayTotal.objects.all().delete()
    _add(ExpenseCharge.objects.all())


def _add(charges) -> None:
    groups = (
        charges.filter(expense__status="posted")
        .order_by()
        .values(
            k_agreement=F("agreement_id"),
            k_line=F("line_id"),
            k_day=F("expense__incurred_on"),
            k_currency=F("expense__currency"),
        )
        .annotate(k_count=Count("*"), k_amount=Sum("amount"), k_base=Sum("base_amount"), k_spot=Sum("spot_amount"))
    )
    totals_upsert(
        PostedChargeDayTotal,
        groups,
        keys={"agreement_id": "k_agreement", "line_id": "k_line", "incurred_on": "k_day", "currency": "k_currency"},
        sums={"count": "k_count", "amount": "k_amount", "base_amount": "k_base", "spot_amount": "k_spot"},
    )
