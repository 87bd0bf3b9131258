"""One bad file each: the exact message, with line and column, and nothing written."""

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from .conftest import DATA, counts

AMOUNT_FORM = (
    "is not an amount like 1234.50 (ASCII digits, '.' before the decimals, at most 3 decimals, "
    "no thousands separators, no currency sign)."
)
COLUMNS = "reference, donor_ref, received_on, amount, currency, method, pledge_ref, rate, note"

ROW_ERRORS = {
    "amount_thousands_comma.csv": [f"Line 2, column amount: '1.234,50' {AMOUNT_FORM}"],
    "amount_nan.csv": [f"Line 2, column amount: 'NaN' {AMOUNT_FORM}"],
    "amount_exponent.csv": [f"Line 2, column amount: '1e3' {AMOUNT_FORM}"],
    "amount_arabic_digits.csv": [f"Line 2, column amount: '١٠٠' {AMOUNT_FORM}"],
    "amount_three_places.csv": ["Line 2, column amount: GBP has 2 decimal places: 100.505 is not a GBP amount."],
    "amount_negative.csv": ["Line 2, column amount: '-5.00' must be greater than zero."],
    "amount_zero.csv": ["Line 2, column amount: '0.00' must be greater than zero."],
    "bad_amount.xlsx": [f"Line 2, column amount: '1.234,50' {AMOUNT_FORM}"],
    "date_day_month_year.csv": ["Line 2, column received_on: '03/04/2025' is not a date in the form YYYY-MM-DD."],
    "date_not_real.csv": ["Line 2, column received_on: '2025-02-30' is not a real date."],
    "currency_unknown.csv": [
        "Line 2, column currency: 'ABC' is not an ISO 4217 currency code (three capital letters, such as GBP)."
    ],
    "currency_no_rate.csv": ["Line 2, column currency: No exchange rate for EUR on or before 2025-03-02."],
    "method_unknown.csv": ["Line 2, column method: 'paypal' is not one of: bank_transfer, card, cheque, in_kind."],
    "donor_unknown.csv": ["Line 2, column donor_ref: There is no donor with reference 'DON-9999'."],
    "pledge_unknown.csv": ["Line 2, column pledge_ref: There is no pledge with reference 'PLG-9999'."],
    "pledge_of_another_donor.csv": [
        "Line 2, column pledge_ref: Pledge PLG-0002 belongs to donor DON-0002, not to DON-0001."
    ],
    "reference_duplicate.csv": [
        "Line 3, column reference: BANK-1 is also on line 2; each row must have its own reference."
    ],
    "reference_missing.csv": ["Line 2, column reference: This cell is empty; a value is required."],
    "row_too_many_cells.csv": ["Line 2: This row has 10 cells but the header has 9 columns."],
    # An unquoted decimal comma shifts the cells; every shifted cell is reported, nothing guessed.
    "several_bad_rows.csv": [
        "Line 3, column currency: '5' is not an ISO 4217 currency code (three capital letters, such as GBP).",
        "Line 3, column method: 'GBP' is not one of: bank_transfer, card, cheque, in_kind.",
        "Line 4, column received_on: '2025-13-01' is not a real date.",
    ],
    "header_renamed.csv": [
        f"Line 1, column amt: Unknown column 'amt'. The columns are: {COLUMNS}.",
        "Line 1, column amount: The required column 'amount' is missing.",
    ],
    "header_only.csv": ["The file has a header row but no data rows."],
    "blank_rows_present.xlsx": [
        "The sheet has more than 1000 blank rows in a row from line 3. Delete the empty rows and save it again."
    ],
}

FILE_ERRORS = {
    "empty.csv": "empty.csv is empty.",
    "latin1.csv": (
        "Line 1: the file is not UTF-8 text. Save it as 'CSV UTF-8 (comma delimited)', or check that it is a CSV file."
    ),
    "legacy.xls": (
        "legacy.xls is an old Excel workbook (.xls) or another Office 97-2003 file. "
        "Save it as .xlsx or as 'CSV UTF-8 (comma delimited)'."
    ),
    "not_a_workbook.xlsx": (
        "not_a_workbook.xlsx is named .xlsx but is not an Excel workbook. Check that it is the right file."
    ),
    "semicolon.csv": (
        "The file looks semicolon-delimited (';' between columns). Save it as 'CSV UTF-8 (comma delimited)' "
        "with commas between columns and '.' as the decimal point."
    ),
    "xlsx_named_csv.csv": (
        "xlsx_named_csv.csv is an Excel workbook (XLSX) but its name does not end in .xlsx. "
        "Rename it to .xlsx, or save it from Excel as 'CSV UTF-8 (comma delimited)'."
    ),
    "zip_bomb.xlsx": "The workbook unpacks to 20,973,552 bytes (limit 10,485,760); it is refused.",
}


def run(name):
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_data", "donations", str(DATA / name), stdout=StringIO(), stderr=err)
    return str(raised.value), err.getvalue().splitlines()


@pytest.fixture(autouse=True)
def _small_xlsx_limit(settings):
    settings.IMPORT_MAX_XLSX_UNCOMPRESSED = 10 * 1024 * 1024


@pytest.mark.parametrize("name", sorted(ROW_ERRORS))
def test_each_bad_row_is_reported_and_nothing_is_written(ledger, name):
    before = counts()
    message, lines = run(name)
    assert lines == ROW_ERRORS[name]
    assert message == f"{len(ROW_ERRORS[name])} error(s); nothing was imported."
    assert counts() == before


@pytest.mark.parametrize("name", sorted(FILE_ERRORS))
def test_each_unreadable_file_is_refused_with_a_clear_message(ledger, name):
    before = counts()
    message, lines = run(name)
    assert (message, lines) == (FILE_ERRORS[name], [])
    assert counts() == before


def test_a_file_over_the_size_cap_is_refused_before_parsing(ledger, settings):
    settings.IMPORT_MAX_BYTES = 100
    message, _ = run("several_bad_rows.csv")
    assert message == "The file is 203 bytes; the limit is 100 bytes. Split it into parts."


def test_a_sheet_declaring_a_million_rows_is_read_quickly(ledger):
    """The dimension claims 1,048,576 rows; only the rows that are there are read."""
    started = time.perf_counter()
    call_command("import_data", "donations", str(DATA / "blank_rows_declared.xlsx"), stdout=StringIO())
    assert time.perf_counter() - started < 5
    assert counts()["Donation"] == 1
