"""Portfolio: the whole funding picture for leadership, for a period."""

from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib.units import mm

from .. import charts
from .base import ReportRenderer, fmt_date, fmt_money, fmt_period


def budget_by_programme(outputs: list[dict]) -> dict[str, list[Decimal]]:
    """{programme: [budget, funded]} summed over a portfolio snapshot's outputs, in their order:
    the "Funding against budget" chart of the PDF and of the HTML version."""
    programmes: dict[str, list[Decimal]] = {}
    for o in outputs:
        budget, funded = programmes.setdefault(o["programme"], [Decimal(0), Decimal(0)])
        programmes[o["programme"]] = [
            budget + Decimal(o["budget"]["amount"]),
            funded + Decimal(o["allocated"]["amount"]),
        ]
    return programmes


class PortfolioRenderer(ReportRenderer):
    def subject(self) -> str:
        return fmt_period(self.s["period"])

    def story(self) -> list:
        s = self.s
        base = s["base_currency"]
        story = [
            self.para("Funding portfolio", "title"),
            self.para(f"{fmt_period(s['period'])} · all amounts in {base} unless marked", "subtitle"),
            self.heading("Headline figures"),
            self.figures_table(s["figures"], base_column=False),
            *self._soft_credit(),
            self.spacer(2 * mm),
            self.para(
                "Received amounts are posted base amounts. Pledge-side amounts in other currencies are converted "
                "at the rate on the period end.",
                "small",
            ),
            self.heading("Allocated and unallocated"),
            self.table(
                ["", "Amount"],
                [[self.cell(r["label"]), fmt_money(r["amount"])] for r in s["allocation_split"]],
                [110 * mm, 50 * mm],
                numeric=(1,),
            ),
        ]
        if s["unallocated_by_restriction"]:
            story += [
                self.spacer(2 * mm),
                self.table(
                    ["Restricted balance", "Unallocated"],
                    [[self.cell(r["label"]), fmt_money(r["amount"])] for r in s["unallocated_by_restriction"]],
                    [110 * mm, 50 * mm],
                    numeric=(1,),
                ),
            ]
        if s.get("reconciliation"):
            story += [
                self.heading("Pledges at the period end: how they add up"),
                *self.reconciliation(s["reconciliation"]),
                *self.reconciliation_note(s["reconciliation"]),
            ]
        story += self._received_breakdowns() + self._outputs() + self._attention()
        return story

    def _soft_credit(self) -> list:
        """The soft credit figure, beside the headline figures and never in them (snapshots before
        soft credits hold none)."""
        soft = self.s.get("soft_credit")
        if not soft:
            return []
        return [self.spacer(1 * mm), self.para(f"{soft['label']}: {fmt_money(soft['value'])}", "small")]

    def _received_breakdowns(self) -> list:
        s = self.s
        story = []
        if len(s["by_year"]) > 1:
            chart = self.bar_chart([r["label"] for r in s["by_year"]], [[r["amount"] for r in s["by_year"]]])
            table = self._label_table("Year", s["by_year"])
            story.append(self.chart_with_table(self.heading("Received by year"), chart, table))
        elif s["by_year"]:  # one bar says nothing the table does not
            story += [self.heading("Received by year"), self._label_table("Year", s["by_year"])]
        else:
            story += [self.heading("Received by year"), self.empty("Nothing was received in the period.")]
        if s["by_kind"]:
            kinds = [r["label"] for r in s["by_kind"]]
            amounts = [r["amount"] for r in s["by_kind"]]
            story.append(
                self.chart_with_table(
                    self.heading("Received by kind of donor"),
                    self.pie_chart(kinds, amounts, colours=charts.donor_kind_colours(kinds)),
                    self._label_table("Kind of donor", s["by_kind"]),
                )
            )
        else:
            story += [self.heading("Received by kind of donor"), self.empty("Nothing was received in the period.")]
        story.append(self.heading("Received by currency"))
        story.append(
            self.table(
                ["Currency", "Received", f"{s['base_currency']} as posted"],
                [[r["label"], fmt_money(r["amount"]), fmt_money(r["base"])] for r in s["by_currency"]],
                [40 * mm, 60 * mm, 60 * mm],
                numeric=(1, 2),
            )
        )
        story.append(self.heading("Top donors in the period"))
        story.append(
            self.table(
                ["Donor", "Kind", "Received"],
                [[self.cell(f"{r['name']} ({r['ref']})"), r["kind"], fmt_money(r["amount"])] for r in s["top_donors"]],
                [95 * mm, 30 * mm, 45 * mm],
                numeric=(2,),
            )
        )
        return story

    def _label_table(self, title, rows):
        return self.table(
            [title, "Amount"], [[self.cell(r["label"]), fmt_money(r["amount"])] for r in rows], [110 * mm, 50 * mm],
            numeric=(1,),
        )  # fmt: skip

    def _outputs(self) -> list:
        s = self.s
        story = [self.heading("Allocated in the period by programme")]
        if s["by_programme"]:
            story.append(self._label_table("Programme", s["by_programme"]))
        else:
            story.append(self.empty("Nothing was allocated in the period."))
        heading = self.heading("Funding against budget")
        if not s["outputs"]:
            return [*story, heading, self.empty("There are no outputs yet.")]
        programmes = budget_by_programme(s["outputs"])
        chart = self.bar_chart(
            list(programmes),
            [[str(v[0]) for v in programmes.values()], [str(v[1]) for v in programmes.values()]],
            names=["Budget", "Funded"],
            horizontal=True,
            height=max(45 * mm, 14 * mm * len(programmes) + 20 * mm),
        )
        rows = [
            [self.markup(f"{escape(o['title'])}<br/><font size='6.5' color='#616e7c'>{escape(o['programme'])} · "
                         f"{escape(o['status'])}</font>", "cell"),
             fmt_money(o["budget"]), fmt_money(o["allocated"]), fmt_money(o["planned"]), fmt_money(o["gap"])]
            for o in s["outputs"]
        ]  # fmt: skip
        table = self.table(
            ["Output", "Budget", "Funded", "Planned", "Gap"],
            rows,
            [58 * mm, 29 * mm, 29 * mm, 29 * mm, 29 * mm],
            numeric=(1, 2, 3, 4),
        )
        story.append(self.chart_with_table(heading, chart, table))
        return story

    def _attention(self) -> list:
        s = self.s
        story = [self.heading("Overdue pledges at period end")]
        if s["overdue_pledges"]:
            story.append(
                self.table(
                    ["Pledge", "Donor", "Pledged", "Overdue"],
                    [[p["ref"], self.cell(p["donor_name"]), fmt_money(p["total"]), fmt_money(p["overdue"])]
                     for p in s["overdue_pledges"]],
                    [20 * mm, 80 * mm, 35 * mm, 35 * mm],
                    numeric=(2, 3),
                )
            )  # fmt: skip
        else:
            story.append(self.empty("No pledge was overdue at the period end."))
        story.append(self.heading("Reports owed to donors (overdue and due within 90 days)"))
        if s["obligations"]:
            story.append(
                self.table(
                    ["Due", "Kind", "Pledge", "Donor", "State"],
                    [[fmt_date(o["due_date"]), o["kind"], o["pledge"], self.cell(o["donor_name"]), o["state"]]
                     for o in s["obligations"]],
                    [24 * mm, 22 * mm, 22 * mm, 82 * mm, 20 * mm],
                )
            )  # fmt: skip
        else:
            story.append(self.empty("No reports are overdue or due within 90 days."))
        return story
