"""Writes the bad-file corpus next to this script. Run it again after changing a case."""

import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
H = "reference,donor_ref,received_on,amount,currency,method,pledge_ref,rate,note\r\n"


def row(
    reference="BANK-1",
    donor="DON-0001",
    on="2025-03-02",
    amount="100.00",
    currency="GBP",
    method="",
    pledge="",
    rate="",
    note="",
):
    return f"{reference},{donor},{on},{amount},{currency},{method},{pledge},{rate},{note}\r\n"


CSV = {
    "amount_thousands_comma.csv": H + row(amount='"1.234,50"'),
    "amount_nan.csv": H + row(amount="NaN"),
    "amount_exponent.csv": H + row(amount="1e3"),
    "amount_arabic_digits.csv": H + row(amount="١٠٠"),
    "amount_three_places.csv": H + row(amount="100.505"),
    "amount_negative.csv": H + row(amount="-5.00"),
    "amount_zero.csv": H + row(amount="0.00"),
    "date_day_month_year.csv": H + row(on="03/04/2025"),
    "date_not_real.csv": H + row(on="2025-02-30"),
    "currency_unknown.csv": H + row(currency="ABC"),
    "currency_no_rate.csv": H + row(currency="EUR"),
    "method_unknown.csv": H + row(method="paypal"),
    "donor_unknown.csv": H + row(donor="DON-9999"),
    "pledge_unknown.csv": H + row(pledge="PLG-9999"),
    "pledge_of_another_donor.csv": H + row(pledge="PLG-0002"),
    "reference_duplicate.csv": H + row() + row(amount="5.00"),
    "reference_missing.csv": H + row(reference=""),
    "row_too_many_cells.csv": H + row().rstrip("\r\n") + ",extra\r\n",
    "several_bad_rows.csv": H
    + row()
    + row(reference="BANK-2", amount="1,5")
    + row(reference="BANK-3", on="2025-13-01"),
    "header_renamed.csv": H.replace("amount", "amt") + row(),
    "header_only.csv": H,
    "semicolon.csv": H.replace(",", ";") + row().replace(",", ";"),
}
BYTES = {
    "empty.csv": b"",
    "latin1.csv": (H + row(note="Caf\xe9")).encode("latin-1"),
    "legacy.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504,
    "not_a_workbook.xlsx": (H + row()).encode(),
}


def sheet_xml(rows_xml: str, dimension: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>'
    )


def workbook(sheet: str | bytes, pad: int = 0) -> bytes:
    """A minimal valid XLSX around one sheet (inline strings, so no shared strings part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>',
        )
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if pad:
            z.writestr("xl/padding.bin", b"\0" * pad)
    return out.getvalue()


def inline_row(number: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values) if v
    )
    return f'<row r="{number}">{cells}</row>'


HEADER_CELLS = H.strip().split(",")
GOOD_CELLS = ["BANK-1", "DON-0001", "2025-03-02", "100.00", "GBP", "", "", "", ""]

XLSX = {
    # 20 MB of zeros packed into ~20 KB: refused from the zip directory before any parsing.
    "zip_bomb.xlsx": workbook(sheet_xml(inline_row(1, HEADER_CELLS), "A1:I1"), pad=20 * 1024 * 1024),
    # The dimension claims a million rows; only two have data.
    "blank_rows_declared.xlsx": workbook(
        sheet_xml(inline_row(1, HEADER_CELLS) + inline_row(2, GOOD_CELLS), "A1:I1048576")
    ),
    # Two thousand empty <row> elements after the data.
    "blank_rows_present.xlsx": workbook(
        sheet_xml(
            inline_row(1, HEADER_CELLS)
            + inline_row(2, GOOD_CELLS)
            + "".join(f'<row r="{n}"/>' for n in range(3, 2003)),
            "A1:I2002",
        )
    ),
    "bad_amount.xlsx": workbook(
        sheet_xml(inline_row(1, HEADER_CELLS) + inline_row(2, [*GOOD_CELLS[:3], "1.234,50", *GOOD_CELLS[4:]]), "A1:I2")
    ),
}

if __name__ == "__main__":
    for name, text in CSV.items():
        (HERE / name).write_bytes(text.encode("utf-8"))
    for name, data in {**BYTES, **XLSX}.items():
        (HERE / name).write_bytes(data)
    (HERE / "xlsx_named_csv.csv").write_bytes(XLSX["bad_amount.xlsx"])
    print(f"{len(CSV) + len(BYTES) + len(XLSX) + 1} files written to {HERE}")
