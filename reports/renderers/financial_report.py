"""Financial report to the funder: the agreement, income, expenditure by budget line against budget with
variances and flags, indirect costs, the balance held, the explanations of flagged lines and the sign-off.

Landscape, so that the budget line table keeps every column a funder's template asks for on one row.
"""

from decimal import Decimal

from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph

from backoffice.money import format_amount

from ..charts import FONT, FONT_BOLD
from ..financial import LINE_COLUMNS, SIGNERS
from .base import CELL_PADDING, CELL_SIZE, STYLES, ReportRenderer, fmt_date, fmt_money, fmt_period

FLAG = "Flagged"
HEAD = ParagraphStyle("financial_head", parent=STYLES["cell"], fontName=FONT_BOLD)
HEAD_RIGHT = ParagraphStyle("financial_head_right", parent=HEAD, alignment=TA_RIGHT)


def blank(width: float) -> str:
    """A line to write on, as wide as a column of `width`."""
    return "_" * int((width - 2 * CELL_PADDING) / stringWidth("_", FONT, CELL_SIZE))


def fmt_amount(value: dict) -> str:
    """An amount whose currency the table's heading states."""
    return format_amount(Decimal(value["amount"]), value["currency"])


def fmt_pct(value: str | None) -> str:
    return "—" if value is None else f"{Decimal(value):+.1f}%"


def fmt_rate(value: str) -> str:
    """A percentage term of the agreement: "10%", "7.5%"."""
    return f"{Decimal(value).normalize():f}%"


class FinancialReportRenderer(ReportRenderer):
    pagesize = landscape(A4)

    def subject(self) -> str:
        a = self.s["agreement"]
        return f"{a['funder']} · {a['funder_ref']}"

    def story(self) -> list:
        s = self.s
        a = s["agreement"]
        return [
            self.para(f"Financial report to {a['funder']}", "title"),
            self.para(f"Agreement {a['funder_ref']} · {fmt_period(s['period'])} · in {s['currency']}", "subtitle"),
            self.heading("Agreement"),
            *self.agreement(),
            self.heading("Income received"),
            self.table(
                ["", "Amount"],
                [
                    [self.cell("Received from the funder in the period"), fmt_money(s["income"]["received_period"])],
                    [
                        self.cell("Received from the funder to the period's end"),
                        fmt_money(s["income"]["received_to_date"]),
                    ],
                ],
                [120 * mm, 50 * mm],
                numeric=(1,),
            ),
            self.heading("Expenditure by budget line"),
            *self.lines(),
            self.heading("Indirect costs"),
            *self.indirect(),
            self.heading("Balance"),
            *self.balance(),
            self.heading("Explanations of variances"),
            *self.explanations(),
            self.heading("Sign-off"),
            self.sign_off(),
        ]

    def agreement(self) -> list:
        s, a = self.s, self.s["agreement"]
        version = s["budget_version"]
        budget = "no approved budget"
        if version["number"]:
            kind = "original" if version["number"] == 1 else f"revision {version['number'] - 1}"
            budget = f"version {version['number']} ({kind}), approved {fmt_date(version['approved_on'])}"
        rows = [
            ("Funder", a["funder"]),
            ("Funder's reference", a["funder_ref"]),
            ("Pledge", f"{a['pledge_ref']} {a['pledge_title']}".strip()),
            ("Amount pledged", fmt_money(a["pledge"])),
            ("Agreement period", f"{fmt_date(a['start'])} – {fmt_date(a['end'])}"),
            ("Reporting period", fmt_period(s["period"])),
            ("Currency", s["currency"]),
            ("Budget in force", budget),
            ("Variance threshold", fmt_rate(a["variance_threshold"])),
            ("Indirect cost rate", f"{fmt_rate(a['indirect_rate'])} of {a['indirect_base'].lower()}"),
            ("Conversion of spend in other currencies", s["conversion"]["text"]),
        ]
        return [
            self.table(["Term", "As agreed"], [[label, self.cell(value)] for label, value in rows], [70 * mm, 170 * mm])
        ]

    def lines(self) -> list:
        s = self.s
        widths = [14 * mm, 30 * mm, *([22 * mm] * len(LINE_COLUMNS)), 20 * mm, 15 * mm]
        # Headings wrap within their columns, so that every column fits across the page.
        labels = ["Code", "Line", *(label for _, label in LINE_COLUMNS), "Variance %", "Flag"]
        header = [Paragraph(label, HEAD_RIGHT if 1 < n < len(labels) - 1 else HEAD) for n, label in enumerate(labels)]
        rows = [
            [
                line["code"],
                self.cell(line["description"]),
                *(fmt_amount(line[key]) for key, _ in LINE_COLUMNS),
                fmt_pct(line["variance_pct"]),
                FLAG if line["flagged"] else "",
            ]
            for line in s["lines"]
        ]
        total = ["", "Total", *(fmt_amount(s["totals"][key]) for key, _ in LINE_COLUMNS), "", ""]
        numeric = range(2, len(header) - 1)
        if not rows:
            return [self.empty("The agreement has no approved budget and nothing was spent in the period.")]
        threshold = fmt_rate(s["agreement"]["variance_threshold"])
        return [
            self.para(f"Amounts in {s['currency']}.", "small"),
            self.table(header, rows, widths, numeric=numeric, total=total),
            self.spacer(2 * mm),
            self.para(
                "Variance is the budget for the period less the actual in the period (positive: underspent); "
                f"a line is flagged where it passes the agreement's {threshold} threshold. The budget for the "
                "period spreads each year's budget evenly over the agreement's months in that year. The forecast "
                "is the actual to date plus the current budget of the months after the period. Actuals are "
                "posted expenses incurred in the period (or by its end), reversals included.",
                "small",
            ),
        ]

    def indirect(self) -> list:
        i, a = self.s["indirect"], self.s["agreement"]
        if Decimal(i["rate"]) == 0:
            return [self.empty("The agreement pays no indirect costs.")]
        return [
            self.table(
                ["", "In the period", "To date"],
                [
                    [
                        self.cell(f"Base: {a['indirect_base'].lower()}"),
                        fmt_money(i["base_period"]),
                        fmt_money(i["base_to_date"]),
                    ],
                    [
                        self.cell(f"Indirect costs at {fmt_rate(i['rate'])}"),
                        fmt_money(i["period"]),
                        fmt_money(i["to_date"]),
                    ],
                ],
                [120 * mm, 50 * mm, 50 * mm],
                numeric=(1, 2),
            ),  # fmt: skip
            self.spacer(2 * mm),
            self.para("Indirect costs are computed from the direct costs charged, never charged themselves.", "small"),
        ]

    def balance(self) -> list:
        s = self.s
        sp = s["spend"]
        return [
            self.table(
                ["", "In the period", "To date"],
                [
                    [self.cell("Direct costs"), fmt_money(sp["direct_period"]), fmt_money(sp["direct_to_date"])],
                    [self.cell("Indirect costs"), fmt_money(sp["indirect_period"]), fmt_money(sp["indirect_to_date"])],
                    [self.cell("Total spend"), fmt_money(sp["total_period"]), fmt_money(sp["total_to_date"])],
                    [
                        self.cell("Received from the funder"),
                        fmt_money(s["income"]["received_period"]),
                        fmt_money(s["income"]["received_to_date"]),
                    ],
                ],
                [120 * mm, 50 * mm, 50 * mm],
                numeric=(1, 2),
                total=["Balance held at the period's end", "", fmt_money(s["balance"])],
            ),  # fmt: skip
            self.spacer(2 * mm),
            self.para(
                "The balance held is the money received less the spend to date: what is returned to the "
                "funder if it stays unspent.",
                "small",
            ),  # fmt: skip
        ]

    def explanations(self) -> list:
        rows = self.s["explanations"]
        if not rows:
            return [self.empty("No line's variance passes the threshold in the period.")]
        return [
            self.table(
                ["Line", "Variance", "Explanation", "Written by"],
                [
                    [
                        self.cell(f"{e['code']} {e['description']}"),
                        e["variance"],
                        self.cell(e["text"]),
                        self.cell(
                            f"{e['written_by']}, {fmt_date(e['written_on'])}"
                            if e["written_by"]
                            else fmt_date(e["written_on"])
                        ),
                    ]
                    for e in rows
                ],
                [45 * mm, 40 * mm, 120 * mm, 50 * mm],
            )  # fmt: skip
        ]

    def sign_off(self):
        """Names and roles as given when the report was asked for; where none was given, a line to write on."""
        widths = [30 * mm, 60 * mm, 60 * mm, 55 * mm, 40 * mm]
        rows = []
        for key, label in SIGNERS:
            who = self.s["sign_off"][key]
            rows.append([label, self.cell(who["name"] or blank(widths[1])), self.cell(who["role"] or blank(widths[2])),
                         blank(widths[3]), blank(widths[4])])  # fmt: skip
        return self.keep(self.table(["", "Name", "Role", "Signature", "Date"], rows, widths))
