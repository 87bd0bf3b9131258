"""The one place that knows export formats and escaping. Exporters only yield rows.

Text cells that a spreadsheet would run as a formula (= + - @ tab CR) get a leading single
quote; amounts stay numbers (Decimal, never float); dates are YYYY-MM-DD. What is written
here reads back through the importers unchanged.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal

from backoffice.money import money_in_places

from .fields import escape

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def amounts_in_places(rows: Iterable[tuple], amounts: dict[int, int | str], drop: int = 0) -> Iterable[tuple]:
    """Exporters' rows with each amount in its currency's places: `amounts` maps an amount's
    position to its currency's position in the row, or to a currency code (the base currency).
    The last `drop` values (a currency fetched only for this) are left out."""
    for row in rows:
        row = list(row)
        for at, currency in amounts.items():
            row[at] = money_in_places(row[at], row[currency] if isinstance(currency, int) else currency)
        yield tuple(row[: len(row) - drop])


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return escape(str(value))


def write_csv(header: list[str], rows: Iterable, out) -> int:
    """Write UTF-8 CSV (no BOM) to the binary stream `out`; return the number of rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def xlsx_cell(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | dt.date):
        return value  # a number or date cell; openpyxl writes Decimal's own digits
    if isinstance(value, int | float):
        raise TypeError(f"exports write Decimal, not {type(value).__name__}")
    return escape(str(value))


def write_xlsx(header: list[str], rows: Iterable, out) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append(header)
    count = 0
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=xlsx_cell(value))
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, Decimal):
                places = -value.as_tuple().exponent  # an amount comes in its currency's places
                cell.number_format = "0" if places <= 0 else "0." + "0" * places
            cells.append(cell)
        sheet.append(cells)
        count += 1
    book.save(out)
    return count


def write(fmt: str, header: list[str], rows: Iterable, out) -> int:
    if fmt == "csv":
        return write_csv(header, rows, out)
    if fmt == "xlsx":
        return write_xlsx(header, rows, out)
    raise ValueError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
