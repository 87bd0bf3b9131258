"""`import_data expenses` / `export_data expenses`: the file's rules, all or nothing, split charges,
posting, the round trip and who may import (transfers.kinds_spending, spending.services.ExpensesBulk)."""

import csv
import datetime as dt
import io
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pgtrigger
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from spending import services
from spending.models import Expense, ExpenseCharge
from spending.services import NewCharge, NewLine
from tests.factories import DonorFactory, OutputFactory, PledgeFactory, ProgrammeFactory, RateFactory, role_user
from tests.spending.helpers import agreement_with_budget, line

from .conftest import write_file

DATA = Path(__file__).resolve().parent.parent / "data" / "imports"
HEADER = (
    "reference,incurred_on,paid_on,payee,description,amount,currency,rate,agreement_ref,budget_line,output_ref,share\n"
)
GOOD = HEADER + (
    "INV-1,2025-03-10,2025-03-28,Harbour Hotels Ltd,Venue for the March workshop,1200.00,GBP,,UK-1,A1,,\n"
    "INV-2,2025-04-02,2025-04-05,Skyways,Flights,100.01,GBP,,,,,UK-1:A2:60;US-1:T1:40\n"
    "INV-3,2025-05-01,2025-05-02,Translators Inc,Translation,250.00,USD,0.80000000,US-1,T1,,\n"
)
CSV_FORMAT = "0"  # transfers.resources.FORMATS: CSV, XLSX


@pytest.fixture
def spending_ledger(db):
    """UK-1 (GBP, 2025-2026: A1 staff, A2 travel a year) and US-1 (USD, from 2025-04-01: T1 travel
    for 2025), and USD rates."""
    uk = agreement_with_budget(funder_ref="UK-1")
    pledge = PledgeFactory(
        donor=DonorFactory(), currency="USD", total=Decimal("50000.00"), start_date=dt.date(2025, 4, 1),
        end_date=dt.date(2025, 12, 31),
    )  # fmt: skip
    us = services.agreement_create(
        pledge=pledge, funder_ref="US-1", start_date=dt.date(2025, 4, 1), end_date=dt.date(2025, 12, 31),
        status="active",
    )  # fmt: skip
    version = services.budget_version_create(
        agreement=us, lines=[NewLine(code="T1", category="travel", year=2025, amount=Decimal("5000.00"))]
    )
    services.budget_version_approve(version=version, approved_on=dt.date(2025, 4, 1))
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    RateFactory(currency="USD", date=dt.date(2025, 4, 1), rate=Decimal("0.75000000"))
    return {"uk": uk, "us": us}


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_data", "expenses", path, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def errors_of(tmp_path, content, *args) -> list[str]:
    """The error lines of a refused file; asserts nothing was written."""
    before = (Expense.objects.count(), ExpenseCharge.objects.count(), Expense.history.count())
    err = StringIO()
    with pytest.raises(CommandError, match=r"error\(s\).*nothing was imported"):
        call_command("import_data", "expenses", write_file(tmp_path, "bad.csv", content), *args, stderr=err)
    assert (Expense.objects.count(), ExpenseCharge.objects.count(), Expense.history.count()) == before
    return err.getvalue().splitlines()


def charges_of(reference):
    return [
        (c.agreement.funder_ref, c.line.code, c.line.year, c.amount, c.share, c.base_amount, c.spot_amount)
        for c in ExpenseCharge.objects.filter(expense__reference=reference).order_by("id")
    ]


def test_a_good_file_becomes_draft_expenses_with_their_charges(spending_ledger, tmp_path):
    out, _ = run(write_file(tmp_path, "march.csv", GOOD))
    assert "3 row(s): 3 new imported, 0 unchanged" in out
    assert "2 expense(s) in GBP, GBP 1,300.01 in all, drafts" in out
    assert "1 expense(s) in USD, USD 250.00 in all, drafts" in out
    assert set(Expense.objects.values_list("status", flat=True)) == {"draft"}
    venue = Expense.objects.get(reference="INV-1")
    assert (venue.payee, venue.amount, venue.currency, venue.rate, venue.base_amount) == (
        "Harbour Hotels Ltd", Decimal("1200.00"), "GBP", None, None,
    )  # fmt: skip
    assert charges_of("INV-1") == [("UK-1", "A1", 2025, Decimal("1200.00"), Decimal("100.00"), None, None)]
    # 60% and 40% of 100.01 by the largest remainder: the odd penny goes to the larger remainder.
    assert charges_of("INV-2") == [
        ("UK-1", "A2", 2025, Decimal("60.01"), Decimal("60.00"), None, None),
        ("US-1", "T1", 2025, Decimal("40.00"), Decimal("40.00"), None, None),
    ]
    assert Expense.objects.get(reference="INV-3").rate == Decimal("0.80000000")
    assert Expense.history.filter(history_type="+").count() == 3
    assert ExpenseCharge.history.filter(history_type="+").count() == 4


def test_post_freezes_what_expense_post_would(spending_ledger, tmp_path, finance_user):
    run(write_file(tmp_path, "march.csv", GOOD), "--post", "--user", finance_user.username)
    assert set(Expense.objects.values_list("status", "posted_by")) == {("posted", finance_user.pk)}
    split = Expense.objects.get(reference="INV-2")
    assert (split.rate, split.rate_source, split.base_amount) == (Decimal("1"), "base currency", Decimal("100.01"))
    # The USD agreement's charge in USD at the rate of the day paid: 40.00 / 0.75.
    assert charges_of("INV-2") == [
        ("UK-1", "A2", 2025, Decimal("60.01"), Decimal("60.00"), Decimal("60.01"), Decimal("60.01")),
        ("US-1", "T1", 2025, Decimal("40.00"), Decimal("40.00"), Decimal("40.00"), Decimal("53.33")),
    ]
    usd = Expense.objects.get(reference="INV-3")
    assert (usd.rate, usd.rate_source, usd.base_amount) == (Decimal("0.80000000"), "entered", Decimal("200.00"))
    assert charges_of("INV-3") == [
        ("US-1", "T1", 2025, Decimal("250.00"), Decimal("100.00"), Decimal("200.00"), Decimal("250.00"))
    ]
    # The same figures expense_post_preview gives a posted expense's own charges.
    for expense in Expense.objects.all():
        fresh = Expense(**{f.attname: getattr(expense, f.attname) for f in Expense._meta.concrete_fields})
        fresh.rate = None if expense.rate_source != "entered" else expense.rate
        assert services.expense_amounts(fresh)["base_amount"] == expense.base_amount


def test_reimporting_the_same_file_changes_nothing(spending_ledger, tmp_path):
    path = write_file(tmp_path, "march.csv", GOOD)
    run(path, "--post")
    out, _ = run(path, "--post")
    assert "0 new imported, 3 unchanged" in out
    assert Expense.objects.count() == 3 and ExpenseCharge.objects.count() == 4


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-9,A1,,",
            "Line 2, column agreement_ref: There is no agreement with the funder's reference 'UK-9'.",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-1,Z9,,",
            "Line 2, column budget_line: Agreement UK-1's budget has no line 'Z9'.",
        ),
        (
            "INV-9,2027-03-10,2027-03-28,P,D,10.00,GBP,,UK-1,A1,,",
            "Line 2, column budget_line: Line A1 of agreement UK-1's current budget is for 2025, 2026, not for "
            "2027, the year the expense was incurred.",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.00,USD,,US-1,T1,,",
            "Line 2, column incurred_on: Charge 1 (T1): the expense was incurred on 2025-03-10, outside "
            "agreement US-1's period (2025-04-01 to 2025-12-31).",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,,,,UK-1:A2:60;US-1:T1:30",
            "Line 2, column share: The shares add up to 90%; they must add up to 100%.",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,,,,UK-1:A2",
            "Line 2, column share: Part 1, 'UK-1:A2', is not agreement_ref:budget_line:value (such as AGR-1:A1:60).",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,,,,UK-1:A2:50;US-9:T1:50",
            "Line 2, column share: Part 2 (US-9:T1): There is no agreement with the funder's reference 'US-9'.",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,UK-1,A2,,UK-1:A2:100",
            "Line 2, column share: Give the charges either in share or in agreement_ref and budget_line, not both "
            "(agreement_ref, budget_line).",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,UK-1,,,",
            "Line 2, column budget_line: This cell is empty: give the agreement and budget line the expense is "
            "charged to (or its charges in share).",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.005,GBP,,UK-1,A1,,",
            "Line 2, column amount: GBP has 2 decimal places: 10.005 is not a GBP amount.",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.5,JPY,0.00500000,UK-1,A1,,",
            "Line 2, column amount: JPY has no minor unit: 10.5 is not a JPY amount.",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.00,EUR,,UK-1,A1,,",
            "Line 2, column currency: No exchange rate for EUR on or before 2025-03-28.",
        ),
        (
            "INV-9,2025-03-10,2025-03-01,P,D,10.00,GBP,,UK-1,A1,,",
            "Line 2, column paid_on: The date paid is before the date incurred.",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,-10.00,GBP,,UK-1,A1,,",
            "Line 2, column amount: '-10.00' must be greater than zero.",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,,,,UK-1:A2:GBP 8.00;US-1:T1:USD 2.00",
            "Line 2, column share: Part 2 (US-1:T1): the amount is in USD, the expense in GBP.",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,,,,UK-1:A2:GBP 8.00;UK-1:A1:GBP 2.50",
            "Line 2, column share: The charges add up to 10.50 GBP, more than the expense's 10.00 GBP.",
        ),
        (
            "INV-9,2025-04-10,2025-04-28,P,D,10.00,GBP,,,,,UK-1:A2:GBP 8.001",
            "Line 2, column share: Charge 1 (A2): GBP has 2 decimal places: 8.001 is not a GBP amount.",
        ),
        (
            "INV-9,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-1,A1,NOPE/Nothing,",
            "Line 2, column output_ref: Programme NOPE has no output titled 'Nothing'.",
        ),
    ],
)
def test_each_bad_row_is_named_with_its_line_column_and_reason(spending_ledger, tmp_path, row, expected):
    assert errors_of(tmp_path, HEADER + row + "\n") == [expected]


def test_a_line_of_an_earlier_budget_version_is_refused(spending_ledger, tmp_path):
    revision = services.budget_revision_start(agreement=spending_ledger["uk"], reason="Travel dropped")
    revision.lines.filter(code="A2").delete()
    services.budget_version_approve(version=revision, approved_on=dt.date(2025, 2, 1), approved_by_funder="FCDO")
    row = "INV-9,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-1,A2,,\n"
    assert errors_of(tmp_path, HEADER + row) == [
        "Line 2, column budget_line: Charge 1 (A2): the line is not in agreement UK-1's current budget (version 2)."
    ]


def test_a_future_paid_on_is_refused_when_posting(spending_ledger, tmp_path):
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    row = f"INV-9,2025-03-10,{tomorrow},P,D,10.00,GBP,,UK-1,A1,,\n"
    (error,) = errors_of(tmp_path, HEADER + row, "--post")
    assert error.startswith(f"Line 2, column paid_on: The date paid, {tomorrow}, is in the future")


def test_duplicate_references_in_the_file_and_a_recorded_one_that_differs(spending_ledger, tmp_path):
    run(write_file(tmp_path, "march.csv", GOOD))
    rows = (
        "INV-7,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-1,A1,,\n"
        "INV-7,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-1,A1,,\n"
        "INV-1,2025-03-10,2025-03-28,Harbour Hotels Ltd,Venue for the March workshop,1200.01,GBP,,UK-1,A1,,\n"
        "INV-2,2025-04-02,2025-04-05,Skyways,Flights,100.01,GBP,,,,,UK-1:A2:50;US-1:T1:50\n"
    )
    assert errors_of(tmp_path, HEADER + rows) == [
        "Line 3, column reference: INV-7 is also on line 2; each row must have its own reference.",
        "Line 4, column amount: INV-1 is already recorded with amount '1200.00', but this row says '1200.01'. "
        "An import never changes a recorded expense; correct it in the admin.",
        "Line 5, column share: INV-2 is already recorded with share 'UK-1:A2:60;US-1:T1:40', but this row says "
        "'UK-1:A2:50;US-1:T1:50'. An import never changes a recorded expense; correct it in the admin.",
    ]


def test_one_bad_row_among_good_ones_writes_nothing(spending_ledger, tmp_path):
    bad = GOOD + "INV-4,2025-03-10,2025-03-28,P,D,10.00,GBP,,UK-1,A9,,\n"
    assert errors_of(tmp_path, bad, "--post") == [
        "Line 5, column budget_line: Agreement UK-1's budget has no line 'A9'."
    ]
    assert Expense.objects.count() == 0


def test_the_example_file_in_the_docs_imports(spending_ledger):
    out, _ = run(str(DATA / "expenses.csv"), "--post")
    assert "4 row(s): 4 new imported" in out
    assert charges_of("EXP-4") == [
        ("UK-1", "A1", 2025, Decimal("50.00"), None, Decimal("50.00"), Decimal("50.00")),
        ("UK-1", "A2", 2025, Decimal("25.00"), None, Decimal("25.00"), Decimal("25.00")),
    ]


@pytest.fixture
def recorded(spending_ledger, tmp_path, finance_user):
    """Posted expenses of every shape: whole, split by shares, by amounts (one not fully charged),
    one with its own output, a draft, and a reversal."""
    run(write_file(tmp_path, "march.csv", GOOD), "--post")
    uk = spending_ledger["uk"]
    output = OutputFactory(programme=ProgrammeFactory(code="WS"), title="Workshop: Nairobi; 2025")
    by_amount = services.expense_create(
        reference="=ADMIN-1", incurred_on=dt.date(2025, 6, 1), paid_on=dt.date(2025, 6, 3), payee="-Dash",
        description="Line one\nline two", amount=Decimal("90.00"), currency="GBP",
        charges=[
            NewCharge(line(uk, "A1"), amount=Decimal("50.00")), NewCharge(line(uk, "A2"), amount=Decimal("30.00")),
        ],
    )  # fmt: skip
    services.expense_post(expense=by_amount, by=finance_user)
    with_output = services.expense_create(
        reference="ADMIN-2", incurred_on=dt.date(2026, 2, 1), paid_on=dt.date(2026, 2, 1), payee="P",
        description="D", amount=Decimal("10.00"), currency="GBP",
        charges=[NewCharge(line(uk, "A1", 2026), share=Decimal("100"), output=output)],
    )  # fmt: skip
    services.expense_post(expense=with_output, by=finance_user)
    services.expense_create(
        reference="ADMIN-3", incurred_on=dt.date(2025, 7, 1), paid_on=dt.date(2025, 7, 1), payee="P",
        description="A draft", amount=Decimal("5.00"), currency="USD", rate=Decimal("0.70000000"),
        charges=[NewCharge(line(spending_ledger["us"], "T1"), share=Decimal("100"))],
    )  # fmt: skip
    services.expense_reverse(
        expense=Expense.objects.get(reference="INV-1"), by=finance_user, reason="Paid twice", on=dt.date(2025, 8, 1)
    )


def ledger_state():
    expenses = sorted(
        Expense.objects.values_list(
            "reference", "incurred_on", "paid_on", "payee", "description", "amount", "currency", "rate",
            "rate_date", "rate_source", "base_amount", "status",
        )
    )  # fmt: skip
    charges = sorted(
        ExpenseCharge.objects.values_list(
            "expense__reference", "agreement__funder_ref", "line__code", "line__year", "output__title", "amount",
            "share", "base_amount", "spot_amount",
        )
    )  # fmt: skip
    return expenses, charges


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(recorded, tmp_path, fmt):
    path = tmp_path / f"expenses.{fmt}"
    call_command("export_data", "expenses", "--format", fmt, "--out", str(path), stderr=StringIO())
    before = ledger_state()
    out, _ = run(str(path))
    assert "0 new imported, 7 unchanged" in out
    assert ledger_state() == before


def test_an_export_imported_into_an_empty_ledger_gives_the_same_expenses_and_charges(recorded, tmp_path):
    path = tmp_path / "expenses.csv"
    call_command("export_data", "expenses", "--out", str(path), stderr=StringIO())
    text = path.read_text(encoding="utf-8")
    assert "'=ADMIN-1" in text and "'-Dash" in text  # formula starts escaped
    assert "UK-1:A1:GBP 50.00;UK-1:A2:GBP 30.00" in text
    assert ",UK-1,A1,WS/Workshop: Nairobi; 2025,," in text
    posted = [r for r in ledger_state()[0] if r[-1] == "posted" and not r[0].endswith("-REV") and r[0] != "INV-1"]
    expected_charges = [c for c in ledger_state()[1] if c[0] in {r[0] for r in posted}]
    # The empty ledger: the same agreements and rates, no expense.
    # The models refuse it: posted records are never deleted.
    with (
        pgtrigger.ignore("spending.Expense:posted_immutable", "spending.ExpenseCharge:parent_immutable"),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM spending_expensecharge")
        cursor.execute("DELETE FROM spending_expense WHERE reversal_of_id IS NOT NULL")
        cursor.execute("DELETE FROM spending_expense")
    # Reversed expenses and their reversals, and drafts, are left out: a new row's amount is positive.
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    status, reverses = header.index("status"), header.index("reverses")
    keep = [r for r in rows if r[status] == "posted" and not r[reverses] and r[0] != "INV-1"]
    back = io.StringIO()
    csv.writer(back).writerows([header, *keep])
    out, _ = run(write_file(tmp_path, "back.csv", back.getvalue()), "--post")
    assert f"{len(posted)} new imported" in out
    assert ledger_state() == (posted, expected_charges)


def test_only_finance_imports_expenses_and_leadership_and_auditor_export_them(spending_ledger, client):
    upload = lambda: SimpleUploadedFile("march.csv", GOOD.encode())  # noqa: E731
    for role in ("Programme", "Leadership", "Auditor"):
        client.force_login(role_user(role, username=f"{role.lower()}-x"))
        assert client.get(reverse("admin:spending_expense_import")).status_code == 403, role
        response = client.post(reverse("admin:spending_expense_import"), {"import_file": upload(), "format": "0"})
        assert response.status_code == 403, role
    for role, status in (("Leadership", 200), ("Auditor", 200), ("Programme", 403), ("Finance", 200)):
        client.force_login(role_user(role, username=f"{role.lower()}-y"))
        assert client.get(reverse("admin:spending_expense_export")).status_code == status, role
    client.force_login(role_user("Finance"))
    preview = client.post(reverse("admin:spending_expense_import"), {"import_file": upload(), "format": CSV_FORMAT})
    assert preview.status_code == 200 and Expense.objects.count() == 0
    response = client.post(reverse("admin:spending_expense_process_import"), preview.context["confirm_form"].initial)
    assert response.status_code == 302
    assert sorted(Expense.objects.values_list("reference", "status")) == [
        ("INV-1", "draft"), ("INV-2", "draft"), ("INV-3", "draft"),
    ]  # fmt: skip


def test_bulk_history_rows_repeat_every_field_of_their_expense_and_charge(spending_ledger, tmp_path, finance_user):
    from tests.imports.test_writes import history_matches

    run(write_file(tmp_path, "march.csv", GOOD), "--post", "--user", finance_user.username)
    assert history_matches(Expense, finance_user) == 3
    charge_fields = [f.attname for f in ExpenseCharge._meta.concrete_fields]
    charges = {row["id"]: row for row in ExpenseCharge.objects.values(*charge_fields)}
    history = ExpenseCharge.history.values(*charge_fields, "history_type", "history_user_id")
    assert {h["id"]: {f: h[f] for f in charge_fields} for h in history} == charges
    assert {(h["history_type"], h["history_user_id"]) for h in history} == {("+", finance_user.pk)}


def test_a_file_read_a_row_a_chunk_posts_what_one_chunk_posts(spending_ledger, tmp_path, finance_user, monkeypatch):
    """Each chunk is built while the last one's history rows and foreign-key checks are still on the
    server (backoffice.bulk.overlapped): the expenses, charges, history rows and kept totals are
    those of the file read at once."""
    from spending.models import PostedChargeDayTotal
    from spending.totals import charge_totals_rebuild
    from transfers.kinds_spending import ExpenseImporter

    monkeypatch.setattr(ExpenseImporter, "chunk_size", 1)
    run(write_file(tmp_path, "march.csv", GOOD), "--post", "--user", finance_user.username)
    assert charges_of("INV-2") == [
        ("UK-1", "A2", 2025, Decimal("60.01"), Decimal("60.00"), Decimal("60.01"), Decimal("60.01")),
        ("US-1", "T1", 2025, Decimal("40.00"), Decimal("40.00"), Decimal("40.00"), Decimal("53.33")),
    ]
    assert charges_of("INV-3") == [
        ("US-1", "T1", 2025, Decimal("250.00"), Decimal("100.00"), Decimal("200.00"), Decimal("250.00"))
    ]
    assert (Expense.history.filter(history_type="+").count(), ExpenseCharge.history.count()) == (3, 4)
    fields = ["agreement_id", "line_id", "incurred_on", "currency", "count", "amount", "base_amount", "spot_amount"]
    kept = sorted(PostedChargeDayTotal.objects.values_list(*fields))
    charge_totals_rebuild()
    assert kept == sorted(PostedChargeDayTotal.objects.values_list(*fields)) and len(kept) == 4
