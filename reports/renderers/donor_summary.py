"""Donor summary: what one donor gave in a period, and what it paid for."""

from decimal import Decimal

from reportlab.lib.units import mm

from backoffice.money import format_rate

from .base import ReportRenderer, fmt_date, fmt_money, fmt_number, fmt_period, fmt_rates, fmt_share


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
        s = self.s
        notes = []
        if s["rates"]:
            rates = fmt_rates(s["rates"])
            notes.append(
                "Donations count at the amount received and their base amount as posted. Pledged, written-off and "
                f"outstanding amounts in other currencies are converted at the rate on the period end: {rates}."
            )
        for f in s["figures"]:
            if f.get("converted_from"):
                dates = {(c["from"], c["to"]): c["rate_dates"] for c in s.get("conversions", [])}
                parts = "; ".join(
                    f"{fmt_money(p['amount'])} at 1 {p['amount']['currency']} = "
                    f"{format_rate(p['rate'])} {s['currency']} is {fmt_money(p['converted'])} (rates to "
                    f"{s['base_currency']} of "
                    + " and ".join(fmt_date(d) for d in dates[(p["amount"]["currency"], s["currency"])])
                    + ")"
                    for p in f["converted_from"]
                )
                notes.append(f"{f['label']} includes, converted at the closing rate: {parts}.")
        return [self.spacer(2 * mm), self.para(" ".join(notes), "small")] if notes else []

    def _pledges(self) -> list:
        pledges = self.s["pledges"]
        if not pledges:
            return []
        overpaid = any(Decimal(p["overpaid"]["amount"]) for p in pledges)
        rows = [
            [p["ref"], self.cell(p["title"]), fmt_money(p["total"]), fmt_money(p["received"]),
             fmt_money(p["written_off"]), *([fmt_money(p["overpaid"])] if overpaid else []),
             fmt_money(p["outstanding"])]
            for p in pledges
        ]  # fmt: skip
        header = ["Pledge", "Title", "Pledged", "Received", "Written off", *(["Overpaid"] if overpaid else [])]
        money_width = 112 * mm / (len(header) - 1)
        rows_story = [
            self.heading("Your pledges"),
            self.table(
                [*header, "Outstanding"],
                rows,
                [18 * mm, 40 * mm, *([money_width] * (len(header) - 1))],
                numeric=range(2, len(header) + 1),
            ),
        ]
        reconciliation = self.s.get("reconciliation", [])
        if not reconciliation:
            return rows_story
        return [
            *rows_story,
            self.heading("How your pledges add up"),
            *self.reconciliation(reconciliation),
            *self.reconciliation_note(reconciliation),
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
        # One total per currency received, never one currency added into another; then the base total.
        # Snapshots made before renderer 7 hold one total ("value"), in the donor's currency.
        by_currency = s["donations_total"].get("by_currency") or [
            {"amount": s["donations_total"]["value"], "base": s["donations_total"]["base"]}
        ]
        if len(by_currency) == 1:
            total = ["Total", "", "", fmt_money(by_currency[0]["amount"]), fmt_money(s["donations_total"]["base"])]
        else:
            rows += [
                [f"Total in {t['amount']['currency']}", "", "", fmt_money(t["amount"]), fmt_money(t["base"])]
                for t in by_currency
            ]
            total = ["Total", "", "", "", fmt_money(s["donations_total"]["base"])]
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
