"""The financial report as an XLSX workbook, from its snapshot alone: funders paste its figures into their own
templates, so amounts are number cells (the snapshot's Decimal strings, written as they are, never through a
float) with the currency's number format, one row per budget line in the budget's own order.

Sheets: "Summary" (the agreement, income, spend, balance, conversion), "Budget lines" (the lines and their
total), "Explanations". The bytes are the same for the same snapshot: the workbook's created and modified
properties are the report's as-of day, and every file in the zip carries that day as its time.
"""

import datetime as dt
import io
import zipfile
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from backoffice.money import minor_unit

from .financial import LINE_COLUMNS, SIGNERS

BOLD = Font(bold=True)
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def number_format(currency: str) -> str:
    """'#,##0.00' for GBP, '#,##0' for JPY, '#,##0.000' for KWD: the currency's ISO 4217 places."""
    places = minor_unit(currency)
    return "#,##0" + ("." + "0" * places if places else "")


def number_cell(sheet, row: int, column: int, value: Decimal, number_format: str):
    """A number cell holding the Decimal's own digits. Given a Decimal, openpyxl writes it with "%.16g", through
    a float; given its string as a number cell's text, it writes the digits as they are."""
    cell = sheet.cell(row=row, column=column, value=str(value))
    cell.data_type = "n"
    cell.number_format = number_format
    return cell


def _amount(value: dict) -> Decimal:
    return Decimal(value["amount"])


class FinancialWorkbook:
    def __init__(self, snapshot: dict):
        self.s = snapshot
        self.format = number_format(snapshot["currency"])

    def text_cell(self, sheet, row: int, column: int, value: str | None):
        """Text as text: openpyxl would take a value beginning with "=" for a formula, and run what a user typed."""
        cell = sheet.cell(row=row, column=column, value=value or None)
        if cell.data_type == "f":
            cell.data_type = "s"
        return cell

    def money_cell(self, sheet, row: int, column: int, value: dict) -> None:
        number_cell(sheet, row, column, _amount(value), self.format)

    def render(self) -> bytes:
        s = self.s
        workbook = Workbook()
        summary = workbook.active
        summary.title = "Summary"
        self.summary(summary)
        self.lines(workbook.create_sheet("Budget lines"))
        self.explanations(workbook.create_sheet("Explanations"))
        as_of = dt.datetime.combine(dt.date.fromisoformat(s["period"]["end"]), dt.time())
        props = workbook.properties
        props.creator, props.lastModifiedBy = s["organisation"]["name"], None
        props.title = f"Financial report {s['agreement']['funder_ref']} {s['period']['start']} to {s['period']['end']}"
        props.created = props.modified = as_of
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            ExcelWriter(workbook, archive).save()  # `save_workbook` would stamp "modified" with the clock
        return _dated(buffer.getvalue(), as_of)

    def summary(self, sheet) -> None:
        s, a = self.s, self.s["agreement"]
        texts = [
            ("Financial report", f"{a['funder']}, agreement {a['funder_ref']}"),
            ("Organisation", s["organisation"]["name"]),
            ("Funder", a["funder"]),
            ("Funder's reference", a["funder_ref"]),
            ("Pledge", a["pledge_ref"]),
            ("Agreement period", f"{a['start']} to {a['end']}"),
            ("Reporting period", f"{s['period']['start']} to {s['period']['end']}"),
            ("Currency", s["currency"]),
            ("Conversion", s["conversion"]["text"]),
        ]
        row = 0
        for row, (label, text) in enumerate(texts, start=1):
            sheet.cell(row=row, column=1, value=label).font = BOLD
            self.text_cell(sheet, row, 2, text)
        sp, income = s["spend"], s["income"]
        amounts = [
            ("Amount pledged", a["pledge"], None),
            ("Received from the funder", income["received_period"], income["received_to_date"]),
            ("Direct costs", sp["direct_period"], sp["direct_to_date"]),
            ("Indirect costs", sp["indirect_period"], sp["indirect_to_date"]),
            ("Total spend", sp["total_period"], sp["total_to_date"]),
            ("Balance held", None, s["balance"]),
        ]
        row += 2
        for column, title in ((2, "In the period"), (3, "To date")):
            sheet.cell(row=row, column=column, value=title).font = BOLD
        for label, period, to_date in amounts:
            row += 1
            sheet.cell(row=row, column=1, value=label).font = BOLD
            for column, value in ((2, period), (3, to_date)):
                if value is not None:
                    self.money_cell(sheet, row, column, value)
        row += 2
        for key, label in SIGNERS:
            who = s["sign_off"][key]
            sheet.cell(row=row, column=1, value=label).font = BOLD
            self.text_cell(sheet, row, 2, who["name"])
            self.text_cell(sheet, row, 3, who["role"])
            row += 1
        sheet.column_dimensions["A"].width = 28
        sheet.column_dimensions["B"].width = 60
        sheet.column_dimensions["C"].width = 18

    def lines(self, sheet) -> None:
        s = self.s
        header = ["Code", "Line", "Category", *(label for _, label in LINE_COLUMNS), "Variance %", "Flagged"]
        for column, title in enumerate(header, start=1):
            sheet.cell(row=1, column=column, value=title).font = BOLD
        first_money = 4
        row = 1
        for row, line in enumerate(s["lines"], start=2):
            for column, text in enumerate((line["code"], line["description"], line["category"]), start=1):
                self.text_cell(sheet, row, column, text)
            for offset, (key, _) in enumerate(LINE_COLUMNS):
                self.money_cell(sheet, row, first_money + offset, line[key])
            pct_column = first_money + len(LINE_COLUMNS)
            if line["variance_pct"] is not None:
                number_cell(sheet, row, pct_column, Decimal(line["variance_pct"]) / 100, "0.00%")
            sheet.cell(row=row, column=pct_column + 1, value="Yes" if line["flagged"] else "No")
        row += 1
        sheet.cell(row=row, column=2, value="Total").font = BOLD
        for offset, (key, _) in enumerate(LINE_COLUMNS):
            self.money_cell(sheet, row, first_money + offset, s["totals"][key])
            sheet.cell(row=row, column=first_money + offset).font = BOLD
        sheet.freeze_panes = "C2"
        sheet.column_dimensions["B"].width = 34
        for offset in range(len(LINE_COLUMNS)):
            sheet.column_dimensions[get_column_letter(first_money + offset)].width = 16

    def explanations(self, sheet) -> None:
        for column, title in enumerate(["Code", "Line", "Variance", "Explanation", "Written by", "Written on"], 1):
            sheet.cell(row=1, column=column, value=title).font = BOLD
        for row, e in enumerate(self.s["explanations"], start=2):
            values = [e["code"], e["description"], e["variance"], e["text"], e["written_by"], e["written_on"]]
            for column, value in enumerate(values, start=1):
                self.text_cell(sheet, row, column, value)
        sheet.column_dimensions["D"].width = 80


def _dated(data: bytes, when: dt.datetime) -> bytes:
    """The zip with every member dated `when`: zipfile stamps members written from a name with the clock."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            dated = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            dated.compress_type, dated.external_attr = info.compress_type, info.external_attr
            target.writestr(dated, source.read(info.filename))
    return out.getvalue()


def financial_workbook(snapshot: dict) -> bytes:
    return FinancialWorkbook(snapshot).render()
