"""An exported file imports back with no change, in both formats."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from donors.services import donation_post, donation_reverse
from tests.factories import ContactFactory, DonationFactory, InstalmentFactory

from .conftest import counts


@pytest.fixture
def recorded(ledger, finance_user):
    first = ledger["first"]
    first.notes = "=1+1 is not a formula here"
    first.save()
    ContactFactory(
        donor=first, name="-Dash", email="dash@example.org", role="@lead", phone="+44 20 7946 0000",
        address="1 Example Street\nLondon SW1A 1AA", lawful_basis="consent", consent_given_on="2025-03-14",
        consent_method="Signed form", objected_to_email_on="2025-06-01",
    )  # fmt: skip
    plain = DonationFactory(reference="BANK-A", donor=first, note="+44 20 7946 0000")
    usd = DonationFactory(reference="BANK-B", donor=ledger["second"], currency="USD", amount="1234.56")
    DonationFactory(reference="'=quoted", donor=first, note="'ordinary quote", amount="0.01")
    donation_post(donation=plain, by=finance_user)
    donation_post(donation=usd, by=finance_user)
    donation_reverse(donation=usd, by=finance_user, reason="\tbank recall")
    pledge = first.pledges.get()
    InstalmentFactory(pledge=pledge, amount=pledge.total)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["donors", "contacts", "pledges", "instalments", "rates", "donations"])
def test_an_exported_file_imports_back_unchanged(recorded, tmp_path, kind, fmt):
    path = tmp_path / f"{kind}.{fmt}"
    call_command("export_data", kind, "--format", fmt, "--out", str(path), stderr=StringIO())
    before = counts()
    out = StringIO()
    call_command("import_data", kind, str(path), stdout=out)
    assert counts() == before
    assert " 0 new imported" in out.getvalue()
    assert "unchanged" in out.getvalue()


def test_export_escapes_formula_starts_and_keeps_amounts_as_numbers(recorded, tmp_path):
    path = tmp_path / "donations.csv"
    call_command("export_data", "donations", "--out", str(path), stderr=StringIO())
    text = path.read_text(encoding="utf-8")
    assert "'+44 20 7946 0000" in text
    assert "''=quoted" in text  # a leading quote before a formula start is doubled
    assert "'ordinary quote" in text and "''ordinary" not in text
    assert ",1234.56,USD," in text and ",-1234.56,USD," in text


def test_xlsx_export_writes_decimal_numbers_not_text(recorded, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "donations.xlsx"
    call_command("export_data", "donations", "--format", "xlsx", "--out", str(path), stderr=StringIO())
    sheet = load_workbook(path).worksheets[0]
    header = [c.value for c in sheet[1]]
    amounts = [row[header.index("amount")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(a, int | float) for a in amounts)
    notes = [row[header.index("note")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'+44 20 7946 0000" in notes


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_outputs_and_indicators_round_trip(db, tmp_path, fmt):
    import datetime as dt

    from grants.models import Indicator
    from tests.factories import OutputFactory

    output = OutputFactory(title="=Model National Response", start_date=dt.date(2025, 1, 1), location="Nairobi")
    Indicator.objects.create(output=output, name="Countries adopting", unit="countries", target="12", actual="3.5")
    for kind in ("outputs", "indicators"):
        path = tmp_path / f"{kind}.{fmt}"
        call_command("export_data", kind, "--format", fmt, "--out", str(path), stderr=StringIO())
        out = StringIO()
        call_command("import_data", kind, str(path), stdout=out)
        assert "1 row(s): 0 new imported, 1 unchanged" in out.getvalue()


def test_outputs_import_then_indicators_refer_to_them(db, tmp_path):
    from grants.models import Indicator, Output
    from tests.factories import ProgrammeFactory

    from .conftest import write_file

    ProgrammeFactory(code="P1")
    outputs = "programme_code,kind,title,budget\nP1,event,Global summit 2026,250000.00\n"
    indicators = "programme_code,output_title,name,unit,target\nP1,Global summit 2026,Participants,people,400\n"
    call_command("import_data", "outputs", write_file(tmp_path, "o.csv", outputs), stdout=StringIO())
    call_command("import_data", "indicators", write_file(tmp_path, "i.csv", indicators), stdout=StringIO())
    assert Indicator.objects.get().output == Output.objects.get(title="Global summit 2026")


def test_a_contact_row_with_consent_but_no_record_of_it_is_refused_with_its_line(ledger, tmp_path):
    from donors.models import Contact

    path = tmp_path / "contacts.csv"
    path.write_text(
        "donor_ref,name,email,lawful_basis,consent_given_on,phone\n"
        f"{ledger['first'].ref},Amara Okafor,amara@example.org,consent,,+44 20 7946 0000\n"
        f"{ledger['first'].ref},Jon Reyes,jon@example.org,legitimate_interests,,020 7946 0000\n",
        encoding="utf-8",
    )
    before, errors = Contact.objects.count(), StringIO()
    with pytest.raises(CommandError, match="3 error"):
        call_command("import_data", "contacts", str(path), stdout=StringIO(), stderr=errors)
    assert errors.getvalue().splitlines() == [
        "Line 2, column consent_given_on: Where the lawful basis is consent, record when it was given.",
        "Line 2, column consent_method: Where the lawful basis is consent, record how it was given.",
        "Line 3, column phone: “020 7946 0000” is not a phone number with its country code; "
        "write it as, for example, +44 20 7946 0000.",
    ]
    assert Contact.objects.count() == before
