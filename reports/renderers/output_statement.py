"""Output statement: one output's budget, funders, funding over time and results."""

from reportlab.lib.units import mm

from .base import ReportRenderer, fmt_date, fmt_money, fmt_number, fmt_share


class OutputStatementRenderer(ReportRenderer):
    def subject(self) -> str:
        return self.s["output"]["title"]

    def story(self) -> list:
        s = self.s
        o = s["output"]
        details = f"{o['programme']} · {o['kind']} · {fmt_date(o['start_date'])} – {fmt_date(o['end_date'])}"
        if o["location"]:
            details += f" · {o['location']}"
        story = [
            self.para(o["title"], "title"),
            self.para(f"Output statement as of {fmt_date(s['as_of'])}", "subtitle"),
            self.para(f"{details} · {o['status']}", "small"),
            self.heading("Budget and funding"),
            self.figures_table(s["figures"], base_column=False),
            self.heading("Funders"),
        ]
        if s["funders"]:
            if s["external"]:
                story.append(self.para("Donors are named only where they have agreed to be acknowledged.", "small"))
            story.append(
                self.table(
                    ["Funder", "Amount", "Share"],
                    [[self.cell(f["name"]), fmt_money(f["amount"]), fmt_share(f["share"])] for f in s["funders"]],
                    [95 * mm, 45 * mm, 25 * mm],
                    numeric=(1, 2),
                )
            )
        else:
            story.append(self.empty("No funding has been allocated to this output yet."))
        if s["over_time"]:
            by = s.get("over_time_by", "month")
            periods = [m.get("period") or m["month"] for m in s["over_time"]]  # "month": snapshots before renderer 7
            story.append(
                self.chart_with_table(
                    self.heading("Funding over time"),
                    self.bar_chart(periods, [[m["cumulative"] for m in s["over_time"]]], names=["Funded to date"]),
                    self.table(
                        [by.capitalize(), "Received and allocated", "Planned from pledges", "Funded to date"],
                        [[period, fmt_money(m["received"]), fmt_money(m["planned"]), fmt_money(m["cumulative"])]
                         for period, m in zip(periods, s["over_time"], strict=True)],
                        [25 * mm, 48 * mm, 48 * mm, 48 * mm],
                        numeric=(1, 2, 3),
                    ),
                )
            )  # fmt: skip
        else:
            story += [self.heading("Funding over time"), self.empty("Nothing has been allocated to this output yet.")]
        story.append(self.heading("Results"))
        if s["indicators"]:
            story.append(
                self.table(
                    ["Indicator", "Unit", "Baseline", "Target", "Actual", "As of"],
                    [[self.cell(i["name"]), self.cell(i["unit"]), fmt_number(i["baseline"]), fmt_number(i["target"]),
                      fmt_number(i["actual"]), fmt_date(i["as_of"])] for i in s["indicators"]],
                    [55 * mm, 28 * mm, 20 * mm, 20 * mm, 20 * mm, 24 * mm],
                    numeric=(2, 3, 4),
                )
            )  # fmt: skip
        else:
            story.append(self.empty("No results have been recorded for this output yet."))
        return story
