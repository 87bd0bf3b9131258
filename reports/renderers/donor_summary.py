"""Donor summary: what one donor gave in a period, and what it paid for."""

from reportlab.lib.units import mm

from .base import ReportRenderer, fmt_date, fmt_money, fmt_number, fmt_period, fmt_share


class DonorSummaryRenderer(ReportRenderer):
    def subject(self) -> str:
        return f"{self.s['donor']['name']} · {fmt_period(self.s['period'])}"

    def story(self) -> list:
        s = self.s
        converted = s["currency"] != s["base_currency"]
        story = [
            self.para(s["donor"]["name"], "title"),
            self.para(f"Impact summary for {fmt_period(s['period'])}", "subtitle"),
            self.spacer(),
            self.para(
                f"Thank you, {s['donor']['name']}. Your support lets the alliance protect children from "
                "sexual exploitation and abuse online. This summary sets out what you gave, what is still "
                "to come, and the work your funding paid for."
            ),
            self.heading("Your giving"),
            self.figures_table(s["figures"], base_column=converted),
            *self._rates_note(),
            *self._pledges(),
            *self._donations(),
            *self._outputs(),
            *self._upcoming(),
        ]
        return story

    def _rates_note(self) -> list:
        if not self.s["rates"]:
            return []
        rates = "; ".join(f"1 {r['currency']} = {r['rate']} {r['base_currency']} ({fmt_date(r['date'])})"
                          for r in self.s["rates"])  # fmt: skip
        return [
            self.spacer(2 * mm),
            self.para(
                "Donations count at the amount received and their base amount as posted. Pledged, written-off and "
                f"outstanding amounts in other currencies are converted at the rate on the period end: {rates}.",
                "small",
            ),
        ]

    def _pledges(self) -> list:
        pledges = self.s["pledges"]
        if not pledges:
            return []
        rows = [
            [p["ref"], self.cell(p["title"]), fmt_money(p["total"]), fmt_money(p["received"]),
             fmt_money(p["written_off"]), fmt_money(p["outstanding"])]
            for p in pledges
        ]  # fmt: skip
        return [
            self.heading("Your pledges"),
            self.table(
                ["Pledge", "Title", "Pledged", "Received", "Written off", "Outstanding"],
                rows,
                [18 * mm, 40 * mm, 28 * mm, 28 * mm, 28 * mm, 28 * mm],
                numeric=(2, 3, 4, 5),
            ),
        ]

    def _donations(self) -> list:
        s = self.s
        story = [self.heading("Donations received in this period")]
        if not s["donations"]:
            return [*story, self.empty("No donations were received in this period.")]
        rows = [
            [fmt_date(d["received_on"]), self.cell(d["reference"] + (" (returned)" if d["reversal"] else "")),
             d["pledge"], fmt_money(d["amount"]), fmt_money(d["base"])]
            for d in s["donations"]
        ]  # fmt: skip
        total = ["Total", "", "", fmt_money(s["donations_total"]["value"]), fmt_money(s["donations_total"]["base"])]
        story.append(
            self.table(
                ["Received", "Reference", "Pledge", "Amount", f"{s['base_currency']} as posted"],
                rows,
                [24 * mm, 50 * mm, 22 * mm, 38 * mm, 38 * mm],
                numeric=(3, 4),
                total=total,
            )
        )
        return story

    def _outputs(self) -> list:
        s = self.s
        story = []
        if not s["outputs"]:
            story.append(self.heading("What your funding supported"))
            return [*story, self.empty("None of your funding had been allocated to an output by the period end.")]
        intro = [
            self.para(
                f"Amounts are in {s['base_currency']}, the currency in which the alliance allocates funding. "
                "Other donors are named only where they have agreed to be acknowledged.",
                "small",
            )
        ]
        for o in s["outputs"]:
            dates = f"{fmt_date(o['start_date'])} – {fmt_date(o['end_date'])}"
            funders = [["Your funding", fmt_money(o["donor_amount"]), fmt_share(o["share"])]]
            for c in o["co_funders"]:
                funders.append([self.cell(c["name"]), fmt_money(c["amount"]), ""])
            funders.append(["All funding allocated", fmt_money(o["output_allocated"]), "100.0%"])
            block = [
                self.para(o["title"], "h3"),
                self.para(f"{o['programme']} · {o['kind']} · {dates} · {o['status']}", "small"),
                self.table(["Funding", "Amount", "Your share"], funders, [80 * mm, 45 * mm, 25 * mm], numeric=(1, 2)),
            ]
            if o["indicators"]:
                rows = [
                    [self.cell(i["name"]), self.cell(i["unit"]), fmt_number(i["target"]), fmt_number(i["actual"]),
                     fmt_date(i["as_of"])]
                    for i in o["indicators"]
                ]  # fmt: skip
                block += [
                    self.spacer(2 * mm),
                    self.table(
                        ["Result", "Unit", "Target", "Actual", "As of"],
                        rows,
                        [62 * mm, 30 * mm, 22 * mm, 22 * mm, 24 * mm],
                        numeric=(2, 3),
                    ),
                ]
            heading = [self.heading("What your funding supported")] if intro else []
            story.append(self.keep(*heading, *intro, *block))
            intro = []
        if s["by_programme"]:
            story += [
                self.heading("Your funding by programme"),
                self.bar_chart(
                    [p["label"] for p in s["by_programme"]],
                    [[p["amount"] for p in s["by_programme"]]],
                    horizontal=True,
                    height=max(35 * mm, 12 * mm * len(s["by_programme"]) + 20 * mm),
                ),
                self.table(
                    ["Programme", "Your funding"],
                    [[self.cell(p["label"]), fmt_money(p["amount"])] for p in s["by_programme"]],
                    [110 * mm, 50 * mm],
                    numeric=(1,),
                ),
            ]
        return story

    def _upcoming(self) -> list:
        s = self.s
        story = [self.heading("Coming up")]
        if s["instalments"]:
            story.append(
                self.table(
                    ["Instalment due", "Pledge", "Amount"],
                    [[fmt_date(i["due_date"]), i["pledge"], fmt_money(i["amount"])] for i in s["instalments"]],
                    [40 * mm, 40 * mm, 50 * mm],
                    numeric=(2,),
                )
            )
        else:
            story.append(self.empty("No instalments fall due in the twelve months after the period end."))
        story.append(self.spacer(3 * mm))
        if s["obligations"]:
            story.append(
                self.table(
                    ["Report due", "Kind", "Pledge", "Status"],
                    [[fmt_date(o["due_date"]), o["kind"], o["pledge"], o["status"]] for o in s["obligations"]],
                    [40 * mm, 30 * mm, 40 * mm, 30 * mm],
                )
            )
        else:
            story.append(self.empty("No reports to you are due in the twelve months after the period end."))
        return story
