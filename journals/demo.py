"""The demo's account map: every kind of posting the demo makes has its account, so that its journals
export (seed_demo sends grants.signals.demo_seeded; JournalsConfig.ready connects this)."""

from donors.models import Donation
from grants.models import Programme
from spending.models import Expense

from .models import COST_CATEGORIES, AccountMap

# Codes in the style of a charity's chart of accounts (income 4xxx, costs 5xxx, banks 12xx).
_METHOD_NAMES = {"bank_transfer": "bank transfers", "card": "card", "cheque": "cheques", "in_kind": "gifts in kind"}


def seed_account_map() -> dict:
    rows = []
    for r, restriction in enumerate(AccountMap.Restriction.values):
        for m, method in enumerate(Donation.Method.values):
            rows.append(AccountMap(
                kind="income", restriction=restriction, method=method, account_code=f"4{r + 1}{m}0",
                account_name=f"{restriction.capitalize()} donations – {_METHOD_NAMES[method]}",
            ))  # fmt: skip
    for c, (category, label) in enumerate(COST_CATEGORIES):
        rows.append(AccountMap(kind="cost", category=category, account_code=f"5{c + 1:02d}0", account_name=label))
    currencies = {*Donation.objects.values_list("currency", flat=True).distinct()}
    currencies |= {*Expense.objects.values_list("currency", flat=True).distinct()}
    for n, currency in enumerate(sorted(currencies)):
        rows.append(
            AccountMap(kind="bank", currency=currency, account_code=f"12{n:02d}", account_name=f"Bank {currency}")
        )
    for programme in Programme.objects.order_by("code"):
        rows.append(AccountMap(
            kind="programme", programme=programme, account_code=programme.code, account_name=programme.name,
        ))  # fmt: skip
    mapped = {_key(r) for r in AccountMap.objects.all()}
    rows = [row for row in rows if _key(row) not in mapped]  # a rerun adds only what is new
    AccountMap.objects.bulk_create(rows)
    return {"account mappings": len(rows)}


def _key(row: AccountMap) -> tuple:
    return (row.kind, *(getattr(row, f + ("_id" if f == "programme" else "")) for f in AccountMap.KEYS[row.kind]))
