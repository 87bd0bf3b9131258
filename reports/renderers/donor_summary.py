"""Donor summary: an impact report. Page 1 answers at a glance what the donor gave, what it paid
for, what came of it and what is still to come; the detail follows, each figure once."""

from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from backoffice.money import format_rate

from ..charts import FONT, RESULT_TEXT_AT, ResultBars, label_shorten
from .base import CELL_PADDING, ReportRenderer, fmt_date, fmt_money, fmt_number, fmt_period, fmt_rates, fmt_share

FRAME = 174 * mm  # the frame's width on A4 with the renderer's margins
# Page 1's table of outputs: output, your funding, results (drawn as bars).
OUTPUT_WIDTHS = [80 * mm, 26 * mm, 68 * mm]
RESULT_SIZE = 6  # the results' text
# Page 1's key figures: (snapshot figure, its label on a tile).
GLANCE = [("received_in_period", gettext_lazy("Received in this period")),
          ("received_to_date", gettext_lazy("Received to date")),
          ("outstanding", gettext_lazy("Outstanding on pledges"))]  # fmt: skip


def spent_on(s: dict, output_id: int) -> dict | None:
    """The snapshot's spend on one output (snapshots before spend was reported hold none)."""
    return next((r for r in s.get("output_spend", ()) if r["output_id"] == output_id), None)


def spent_line(s: dict, o: dict) -> str:
    """One sentence on what the output has cost, beside what was allocated to it: the output's spend
    from all its funding, never presented as the donor's own."""
    spent = spent_on(s, o["output_id"])
    if spent is None:
        return ""
    if Decimal(spent["full_cost"]["amount"]) == 0:
        return _("Nothing had been spent on this output by %(end)s, against %(allocated)s allocated.") % {
            "end": fmt_date(s["period"]["end"]),
            "allocated": fmt_money(o["output_allocated"]),
        }
    return _(
        "Spent on this output by %(end)s, from all its funding: %(full_cost)s (%(direct)s direct costs, "
        "%(indirect)s indirect costs), against %(allocated)s allocated."
    ) % {
        "end": fmt_date(s["period"]["end"]),
        "full_cost": fmt_money(spent["full_cost"]),
        "direct": fmt_money(spent["direct"]),
        "indirect": fmt_money(spent["indirect"]),
        "allocated": fmt_money(o["output_allocated"]),
    }


class DonorSummaryRenderer(ReportRenderer):
    def subject(self) -> str:
        return f"{self.s['donor']['name']} · {fmt_period(self.s['period'])}"

    def story(self) -> list:
        s = self.s
        return [
            self.para(s["donor"]["name"], "title"),
            self.para(_("Impact summary for %(period)s") % {"period": fmt_period(s["period"])}, "subtitle"),
            self.para(
                _(
                    "Thank you. Your support lets the alliance protect children from sexual exploitation and abuse "
                    "online."
                )
            ),
            *self._at_a_glance(),
            *self._paid_for(),
            *self._by_programme(),
            *self._to_come(),
            *self._giving(),
            *self._pledges(),
            *self._donations(),
            *self._soft_credits(),
            *self._outputs(),
            *self._upcoming(),
        ]

    # Page 1 ---------------------------------------------------------------------------------

    def _figure(self, key: str) -> dict | None:
        return next((f for f in self.s["figures"] if f["key"] == key), None)

    def _at_a_glance(self) -> list:
        boxes = [(str(label), fmt_money(self._figure(key)["value"])) for key, label in GLANCE]
        boxes.append((_("Outputs your money funds"), str(len(self.s["outputs"]))))
        cells = [[self.para(label, "small"), self.para(value, "key")] for label, value in boxes]
        return [self.heading(_("Your giving at a glance")), self.tiles(cells)]

    def _paid_for(self) -> list:
        s = self.s
        heading = self.heading(_("What your money paid for, and what came of it"))
        if not s["outputs"]:
            return [heading, self.empty(_("None of your funding had been allocated to an output by the period end."))]
        rows = []
        for o in s["outputs"]:
            title = self.cell(o["title"])
            results = self._result_bars(o["indicators"]) if o["indicators"] else self.para(_("No results yet"), "small")
            rows.append([title, fmt_money(o["donor_amount"]), results])
        return [
            heading,
            self.table(
                [_("Output"), _("Your funding"), _("Results: actual against target")], rows, OUTPUT_WIDTHS, numeric=(1,)
            ),
        ]

    def _result_bars(self, indicators):
        rows = []
        for i in indicators:
            if i["actual"] is None:
                figure, done = _("not yet measured"), None
            else:
                # "Downloads: 9 of 8", not "Downloads: 9 of 8 downloads"
                unit = "" if i["unit"].lower() in i["name"].lower() else i["unit"]
                figure = (
                    _("%(actual)s of %(target)s %(unit)s")
                    % {"actual": fmt_number(i["actual"]), "target": fmt_number(i["target"]), "unit": unit}
                ).rstrip()
                target = Decimal(i["target"])
                done = Decimal(i["actual"]) / target if target > 0 else None
            room = OUTPUT_WIDTHS[2] - 2 * CELL_PADDING - RESULT_TEXT_AT
            name, limit = i["name"], len(i["name"])
            while limit > 8 and stringWidth(f"{name}: {figure}", FONT, RESULT_SIZE) > room:
                limit -= 1
                name = label_shorten(i["name"], limit)
            rows.append((f"{name}: {figure}", done))
        return ResultBars(rows, width=OUTPUT_WIDTHS[2] - 2 * CELL_PADDING, font_size=RESULT_SIZE)

    def _by_programme(self) -> list:
        s = self.s
        if not s["by_programme"]:
            return []
        table = self.table(
            [_("Programme"), _("Your funding")],
            [[self.cell(p["label"]), fmt_money(p["amount"])] for p in s["by_programme"]],
            [58 * mm, 32 * mm],
            numeric=(1,),
        )
        heading = self.heading(_("Where your money went, by programme"))
        if len(s["by_programme"]) == 1:  # one bar says nothing the table does not
            return [heading, table]
        chart = self.bar_chart(
            [p["label"] for p in s["by_programme"]],
            [[p["amount"] for p in s["by_programme"]]],
            horizontal=True,
            width=FRAME - 90 * mm,
            height=4 * mm * len(s["by_programme"]) + 16 * mm,
            label_limit=24,
        )
        return [heading, self.chart_beside_table(chart, table, [FRAME - 90 * mm, 90 * mm])]

    def _to_come(self) -> list:
        s = self.s
        end = fmt_date(s["horizon"]) if s.get("horizon") else _("a year after the period end")
        instalments = s["instalments"]
        if instalments:
            first = instalments[0]
            due = ngettext(
                "%(count)s instalment due by %(end)s; the next, %(amount)s on %(due)s.",
                "%(count)s instalments due by %(end)s; the next, %(amount)s on %(due)s.",
                len(instalments),
            ) % {"count": len(instalments), "end": end, "amount": fmt_money(first["amount"]),
                 "due": fmt_date(first["due_date"])}  # fmt: skip
        else:
            due = _("No instalment falls due by %(end)s.") % {"end": end}
        # The state is a label in the snapshot's language, which is the language rendering now.
        overdue = [o for o in s["obligations"] if self._state(o) == _("Overdue")]
        coming = [o for o in s["obligations"] if self._state(o) != _("Overdue")]
        reports = []
        if overdue:
            dates = ", ".join(fmt_date(o["due_date"]) for o in overdue[:3]) + (", …" if len(overdue) > 3 else "")
            reports.append(_("%(count)s overdue (due %(dates)s)") % {"count": len(overdue), "dates": dates})
        if coming:
            reports.append(
                _("%(count)s due by %(end)s, the next on %(due)s")
                % {"count": len(coming), "end": end, "due": fmt_date(coming[0]["due_date"])}
            )
        owed = (
            _("Reports to you: %(reports)s.") % {"reports": "; ".join(reports)}
            if reports
            else _("No report to you is due by %(end)s.") % {"end": end}
        )
        return [self.heading(_("Still to come")), self.para(due), self.para(owed)]

    @staticmethod
    def _state(obligation: dict) -> str:
        return obligation.get("state") or obligation["status"]  # "status": snapshots before renderer 7

    # The detail ------------------------------------------------------------------------------

    def _giving(self) -> list:
        converted = self.s["currency"] != self.s["base_currency"]
        return [self.heading(_("Your giving")), self.figures_table(self.s["figures"], base_column=converted),
                *self._rates_note()]  # fmt: skip

    def _rates_note(self) -> list:
        s = self.s
        notes = []
        if s["rates"]:
            rates = fmt_rates(s["rates"])
            notes.append(
                _(
                    "Donations count at the amount received and their base amount as posted. Pledged, written-off "
                    "and outstanding amounts in other currencies are converted at the rate on the period end: "
                    "%(rates)s."
                )
                % {"rates": rates}
            )
        for f in s["figures"]:
            if f.get("converted_from"):
                dates = {(c["from"], c["to"]): c["rate_dates"] for c in s.get("conversions", [])}
                parts = "; ".join(
                    _("%(amount)s at 1 %(from)s = %(rate)s %(to)s is %(converted)s (rates to %(base)s of %(dates)s)")
                    % {
                        "amount": fmt_money(p["amount"]),
                        "from": p["amount"]["currency"],
                        "rate": format_rate(p["rate"]),
                        "to": s["currency"],
                        "converted": fmt_money(p["converted"]),
                        "base": s["base_currency"],
                        "dates": get_text_list(
                            [fmt_date(d) for d in dates[(p["amount"]["currency"], s["currency"])]], _("and")
                        ),
                    }
                    for p in f["converted_from"]
                )
                notes.append(
                    _("%(figure)s includes, converted at the closing rate: %(parts)s.")
                    % {"figure": f["label"], "parts": parts}
                )
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
        ref = pgettext("the pledges table's column of references", "Pledge")
        header = [ref, _("Title"), _("Pledged"), _("Received"), _("Written off"),
                  *([_("Overpaid")] if overpaid else [])]  # fmt: skip
        money_width = 112 * mm / (len(header) - 1)
        rows_story = [
            self.heading(_("Your pledges")),
            self.table(
                [*header, _("Outstanding")],
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
            self.heading(_("How your pledges add up")),
            *self.reconciliation(reconciliation),
            *self.reconciliation_note(reconciliation),
        ]

    def _donations(self) -> list:
        s = self.s
        story = [self.heading(_("Donations received in this period"))]
        if not s["donations"]:
            return [*story, self.empty(_("No donations were received in this period."))]
        returned = _("%(reference)s (returned)")
        rows = [
            [fmt_date(d["received_on"]), self.cell(returned % d if d["reversal"] else d["reference"]),
             d["pledge"], fmt_money(d["amount"]), fmt_money(d["base"])]
            for d in s["donations"]
        ]  # fmt: skip
        # One total per currency received, never one currency added into another; then the base total.
        # Snapshots made before renderer 7 hold one total ("value"), in the donor's currency.
        by_currency = s["donations_total"].get("by_currency") or [
            {"amount": s["donations_total"]["value"], "base": s["donations_total"]["base"]}
        ]
        if len(by_currency) == 1:
            total = [_("Total"), "", "", fmt_money(by_currency[0]["amount"]), fmt_money(s["donations_total"]["base"])]
        else:
            rows += [
                [
                    _("Total in %(currency)s") % {"currency": t["amount"]["currency"]},
                    "",
                    "",
                    fmt_money(t["amount"]),
                    fmt_money(t["base"]),
                ]  # fmt: skip
                for t in by_currency
            ]
            total = [_("Total"), "", "", "", fmt_money(s["donations_total"]["base"])]
        story.append(
            self.table(
                [
                    _("Received"),
                    _("Reference"),
                    _("Pledge"),
                    _("Amount"),
                    _("%(currency)s as posted") % {"currency": s["base_currency"]},
                ],  # fmt: skip
                rows,
                [24 * mm, 50 * mm, 22 * mm, 38 * mm, 38 * mm],
                numeric=(3, 4),
                total=total,
            )
        )
        return story

    def _soft_credits(self) -> list:
        """Gifts others paid for the donor, and the donor's gifts credited to others (snapshots before
        soft credits hold neither key)."""
        s, story = self.s, []
        received = s.get("received_through_others", {}).get("rows")
        if received:
            rows = [
                [fmt_date(r["received_on"]), self.cell(r["payer"]), self.cell(r["kind"]), fmt_money(r["amount"]),
                 fmt_money(r["base"])]
                for r in received
            ]  # fmt: skip
            story += [
                self.heading(_("Received through others")),
                self.para(
                    _(
                        "Gifts another donor paid for you: yours, received through the payer. The payer's gift counts "
                        "in the payer's giving, so these are not in your figures above."
                    ),
                    "small",
                ),
                self.table(
                    [
                        _("Received"),
                        _("Paid by"),
                        _("Kind"),
                        _("Amount"),
                        _("%(currency)s as posted") % {"currency": s["base_currency"]},
                    ],
                    rows,
                    [24 * mm, 50 * mm, 30 * mm, 34 * mm, 34 * mm],
                    numeric=(3, 4),
                    total=[_("Total"), "", "", "", fmt_money(s["received_through_others"]["base"])],
                ),
            ]
        credited = s.get("credited_to_others", {}).get("rows")
        if credited:
            story += [
                self.heading(_("Your gifts credited to others")),
                self.para(
                    _(
                        "Gifts you paid, or parts of them, that count as another donor's too. "
                        "They stay in your figures above."
                    ),
                    "small",
                ),
                *[
                    self.para(
                        _("%(on)s, %(reference)s: %(whole)s, of which %(part)s credited to %(name)s (%(kind)s).")
                        % {
                            "on": fmt_date(r["received_on"]),
                            "reference": r["reference"],
                            "whole": fmt_money(r["donation_amount"]),
                            "part": fmt_money(r["amount"]),
                            "name": r["credited_to"],
                            "kind": r["kind"],
                        }
                    )
                    for r in credited
                ],
            ]
        return story

    def _outputs(self) -> list:
        """Each output once more, with what page 1 leaves out: its dates and state, all the funding
        it has had, who else funds it in one line, and where the donor leads, every co-funder."""
        s = self.s
        if not s["outputs"]:
            return []
        story, lead = (
            [],
            [
                self.heading(_("The outputs you funded")),
                self.para(
                    _(
                        "Amounts are in %(currency)s, the currency in which the alliance allocates funding. "
                        "Other donors are named only where they have agreed to be acknowledged."
                    )
                    % {"currency": s["base_currency"]},
                    "small",
                ),
            ],
        )
        for o in s["outputs"]:
            dates = f"{fmt_date(o['start_date'])} – {fmt_date(o['end_date'])}"
            allocated = escape(fmt_money(o["output_allocated"]))
            funding = _("%(allocated)s allocated in all, %(share)s of it yours") % {
                "allocated": allocated,
                "share": fmt_share(o["share"]),
            }
            if o.get("co_funding"):
                funding += f", {escape(o['co_funding'])}"
            as_of = sorted({i["as_of"] for i in o["indicators"] if i["as_of"]})
            if as_of:
                funding += _(". Results as measured on %(dates)s") % {"dates": ", ".join(fmt_date(d) for d in as_of)}
            block = [
                self.para(o["title"], "h3"),
                self.para(f"{o['programme']} · {o['kind']} · {dates} · {o['status']}", "small"),
                self.markup(funding + "."),
            ]
            if spent := spent_line(s, o):
                block.append(self.para(spent, "small"))
            if o.get("co_funders_table", bool(o["co_funders"])) and o["co_funders"]:
                funders = [[_("Your funding"), fmt_money(o["donor_amount"]), fmt_share(o["share"])]]
                funders += [[self.cell(c["name"]), fmt_money(c["amount"]), ""] for c in o["co_funders"]]
                funders.append([_("All funding allocated"), fmt_money(o["output_allocated"]), fmt_share("1")])
                widths = [80 * mm, 45 * mm, 25 * mm]
                header = [_("Funding"), _("Amount"), _("Your share")]
                block.append(self.table(header, funders, widths, numeric=(1, 2)))
            story.append(self.keep(*lead, *block))  # the section's heading stays with its first output
            lead = []
        return story

    def _upcoming(self) -> list:
        s = self.s
        story = [self.heading(_("Instalments and reports to come"))]
        if s["instalments"]:
            story.append(
                self.table(
                    [_("Instalment due"), _("Pledge"), _("Amount")],
                    [[fmt_date(i["due_date"]), i["pledge"], fmt_money(i["amount"])] for i in s["instalments"]],
                    [40 * mm, 40 * mm, 50 * mm],
                    numeric=(2,),
                )
            )
        else:
            story.append(self.empty(_("No instalments fall due in the twelve months after the period end.")))
        story.append(self.spacer(3 * mm))
        if s["obligations"]:
            story.append(
                self.table(
                    [_("Report due"), _("Kind"), _("Pledge"), _("State")],
                    [[fmt_date(o["due_date"]), o["kind"], o["pledge"], self._state(o)] for o in s["obligations"]],
                    [40 * mm, 30 * mm, 40 * mm, 30 * mm],
                )
            )
        else:
            story.append(
                self.empty(_("No reports to you are overdue or due in the twelve months after the period end."))
            )
        return story
