"""Import and export rules for expense files: one row per expense, its charges in the row.

An expense is charged to budget lines of agreements' current budgets. A row names them either in
`agreement_ref` + `budget_line` (and `output_ref`), one charge of the whole expense, or in
`share`: `AGR-1:A1:60;AGR-2:S2:40`, each part `agreement_ref:budget_line:value[:output_ref]`,
where the value is a percentage of the expense (the percentages add up to 100) or an amount in the
expense's currency written with its code (`GBP 120.50`, as the admin records a charge by amount).
A line is the one of its code, in the agreement's current budget, for the year the expense was
incurred. Every rule of an expense and its charges is `spending.services.ExpensesBulk`'s, which
also writes them (with COPY); see docs/imports.md.
"""

import re
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Case, Value, When
from django.db.models.functions import TruncDate

from backoffice.errors import LedgerError
from backoffice.money import format_money, money_in_places
from grants.models import Output
from spending.models import Agreement, BudgetLine, Expense, ExpenseCharge
from spending.services import ExpensesBulk, NewCharge, NewExpense, current_budget

from . import fields as f
from .engine import Column, ExportColumn, Importer, Outcome, RowProblem, ledger_amount_column, one_of
from .export import amounts_in_places

HUNDRED = Decimal(100)
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?", re.ASCII)
_AMOUNT = re.compile(r"([A-Z]{3}) (-?[0-9.]+)", re.ASCII)
SHARE_FORMAT = (
    "Charges: parts separated by ';', each agreement_ref:budget_line:value[:output_ref]; the value a "
    "percentage (at most 2 decimals; the percentages add up to 100) or an amount with its currency "
    "(GBP 120.50)"
)


class Part(NamedTuple):
    """One charge of a row: a percentage of the expense (`share`) or an `amount` in `currency`."""

    agreement_ref: str
    budget_line: str
    share: Decimal | None
    amount: Decimal | None = None
    currency: str = ""
    output_ref: str = ""

    def __str__(self):
        value = format(self.share.normalize(), "f") if self.share is not None else f"{self.currency} {self.amount}"
        return ":".join([self.agreement_ref, self.budget_line, value, *([self.output_ref] if self.output_ref else [])])


class Shares(tuple):
    """A `share` cell's parts; as text, the cell."""

    def __str__(self):
        return ";".join(str(part) for part in self)


def shares(value: str) -> Shares:
    """The `share` cell: its parts, each checked on its own; percentages alone must add up to 100."""
    value = f.text(value, max_length=4000)
    parts = []
    for n, text in enumerate(value.split(";"), start=1):
        pieces = [p.strip() for p in text.split(":", 3)]
        if len(pieces) < 3 or not all(pieces[:3]):
            raise f.CellError(
                f"part {n}, {text.strip()!r}, is not agreement_ref:budget_line:value (such as AGR-1:A1:60)"
            )
        agreement_ref, line, amount_text = pieces[:3]
        output_ref = pieces[3] if len(pieces) == 4 else ""
        if _PERCENT.fullmatch(amount_text):
            share = Decimal(amount_text)
            if not 0 < share <= HUNDRED:
                raise f.CellError(f"part {n}: {amount_text}% is not a share: give more than 0 and at most 100")
            parts.append(Part(agreement_ref, line, share, output_ref=output_ref))
            continue
        found = _AMOUNT.fullmatch(amount_text)
        if not found:
            raise f.CellError(
                f"part {n}: {amount_text!r} is neither a percentage like 60 or 33.33 nor an amount with its "
                "currency like GBP 120.50"
            )
        try:
            amount = f.money(found.group(2), positive=False)
        except f.CellError as error:
            raise f.CellError(f"part {n}: {error}") from None
        parts.append(Part(agreement_ref, line, None, amount, found.group(1), output_ref))
    if all(p.share is not None for p in parts):
        total = sum((p.share for p in parts), Decimal(0))
        if total != HUNDRED:
            raise f.CellError(f"the shares add up to {format(total.normalize(), 'f')}%; they must add up to 100%")
    return Shares(parts)


def output_ref(output: Output) -> str:
    """An output as rows name it: its programme's code and its title."""
    return f"{output.programme.code}/{output.title}"


def _length(name: str) -> int:
    return Expense._meta.get_field(name).max_length


# A ledger field's error is shown in the column that gave the value.
_EXPENSE_COLUMNS = {"reference", "incurred_on", "paid_on", "payee", "description", "amount", "currency", "rate"}


class ExpenseImporter(Importer):
    """An expense file; with `post`, its expenses are posted in the import's transaction. The rows are
    checked and written by `spending.services.ExpensesBulk`."""

    kind = "expense"
    model = Expense
    key = ("reference",)
    chunk_size = 10_000
    columns = [
        Column(
            "reference",
            partial(f.text, max_length=_length("reference")),
            help="The invoice or payment reference. Unique; the row's key.",
            example="INV-2025-0412",
        ),
        Column("incurred_on", f.date, example="2025-03-10"),
        Column("paid_on", f.date, help="Not before incurred_on.", example="2025-03-28"),
        Column("payee", partial(f.text, max_length=_length("payee")), example="Harbour Hotels Ltd"),
        Column("description", partial(f.text, notes=True), example="Venue for the March workshop"),
        ledger_amount_column(example="1200.00"),
        Column("currency", f.currency, example="GBP"),
        Column(
            "rate",
            f.rate,
            required=False,
            default=None,
            compare_blank=False,
            blank_means="the latest rate on or before paid_on",
            help="Units of the base currency per unit; exactly 1 for the base currency. "
            "A blank rate is not compared when the row is already recorded.",
            example="0.79120000",
        ),
        Column(
            "agreement_ref",
            partial(f.text, max_length=100),
            required=False,
            default="",
            blank_means="the charges are in share",
            help="The funder's reference of an agreement: with budget_line, the whole expense's one charge.",
            example="UK-2025-014",
        ),
        Column(
            "budget_line",
            partial(f.text, max_length=30),
            required=False,
            default="",
            blank_means="the charges are in share",
            help="A line's code in the agreement's current budget, for the year of incurred_on.",
            example="2.1",
        ),
        Column(
            "output_ref",
            partial(f.text, max_length=321),
            required=False,
            default="",
            compare_blank=False,
            blank_means="the line's own output, if it has one",
            format="Text: programme_code/output title",
            help="The output the charge is for; a line with an output takes only its own.",
            example="INTEL/Global Threat Assessment 2025",
        ),
        Column(
            "share",
            shares,
            required=False,
            default=None,
            blank_means="agreement_ref and budget_line take the whole expense",
            format=SHARE_FORMAT,
            help="A split charge, instead of agreement_ref and budget_line.",
            example="UK-2025-014:2.1:60;US-2025-003:2.1:40",
        ),
    ]
    export_columns = [
        ExportColumn("status", "draft or posted", "Only a posted expense counts.", "posted"),
        ExportColumn("posted_on", "Date: YYYY-MM-DD", "The day it was posted; blank for a draft.", "2025-03-31"),
        ExportColumn("rate_date", "Date: YYYY-MM-DD", "The date of the rate used; blank for a draft.", "2025-03-28"),
        ExportColumn(
            "rate_source",
            "Text",
            "Where the rate used came from; `rate` is written only when it was entered.",
            "ECB",
        ),
        ExportColumn(
            "base_amount",
            "Amount; negative for a reversal",
            "The amount times the rate, half up to the cent; blank for a draft.",
            "948.00",
        ),
        ExportColumn("base_currency", "Currency", "The currency of base_amount; blank for a draft.", "GBP"),
        ExportColumn("reverses", "Text", "On a reversal: the reference of the expense it reverses.", "INV-2025-0412"),
        ExportColumn(
            "reversed_by", "Text", "On a reversed expense: the reference of the reversal.", "INV-2025-0412-REV"
        ),
        ExportColumn("reversal_reason", "Text", "On a reversal: why it was made.", "Invoice paid twice"),
    ]

    def start(self):
        # The cells' parsers (transfers.fields, with the model's lengths) checked what the model's
        # field validators check, as for donations (DonationsBulk); the model's clean() still runs.
        self.bulk = ExpensesBulk(by=self.user, post=self.post, fields_checked=True)
        self.agreements: dict[str, list[Agreement]] = {}  # by funder_ref
        self.lines: dict[int, list[BudgetLine]] = {}  # every line of an agreement, by its id
        self.outputs: dict[tuple[str, str], list[Output]] = {}
        self.targets: dict[tuple, tuple | RowProblem] = {}  # a part's line and output, or why there is none
        self.counts: dict[str, int] = {}
        self.totals: dict[str, Decimal] = {}

    # Lookups, once per chunk ------------------------------------------------------------------

    def load(self, rows):
        parts = [part for row in rows for part in self._parts_given(row)]
        wanted = {p.agreement_ref for p in parts} - set(self.agreements)
        if wanted:
            for agreement in Agreement.objects.filter(funder_ref__in=one_of(wanted)).order_by("pk"):
                self.agreements.setdefault(agreement.funder_ref, []).append(agreement)
                self.lines[agreement.pk] = []
            for line in BudgetLine.objects.filter(version__agreement__funder_ref__in=one_of(wanted)).select_related(
                "version__agreement__pledge", "output__programme"
            ):
                self.lines[line.version.agreement_id].append(line)
        outputs = {tuple(p.output_ref.split("/", 1)) for p in parts if "/" in p.output_ref} - set(self.outputs)
        if outputs:
            for key in outputs:
                self.outputs[key] = []
            found = Output.objects.filter(title__in=one_of(t for _c, t in outputs)).select_related("programme")
            for output in found:
                key = (output.programme.code, output.title)
                if key in self.outputs:
                    self.outputs[key].append(output)
        return self._recorded(rows)

    @staticmethod
    def _parts_given(values) -> list[Part]:
        if values["share"]:
            return list(values["share"])
        if values["agreement_ref"] and values["budget_line"]:
            return [Part(values["agreement_ref"], values["budget_line"], HUNDRED, output_ref=values["output_ref"])]
        return []

    def _recorded(self, rows) -> dict:
        """The rows already recorded, each as the file gives it: its charges in `share`, or in
        agreement_ref + budget_line when the row gives them so and the expense has one whole charge."""
        by_reference = {r["reference"]: r for r in rows}
        recorded = {}
        for values in _expense_rows(Expense.objects.filter(reference__in=one_of(by_reference)), for_compare=True):
            row = by_reference[values["reference"]]
            if row["share"] and values["share"] is None and values["agreement_ref"]:
                part = Part(values["agreement_ref"], values["budget_line"], HUNDRED, output_ref=values["output_ref"])
                values.update(agreement_ref="", budget_line="", output_ref="", share=Shares([part]))
            recorded[(values["reference"],)] = values
        return recorded

    # A new row --------------------------------------------------------------------------------

    def build(self, row):
        v = row.values
        if v["amount"] <= 0:
            raise RowProblem("amount", f"'{v['amount']}' must be greater than zero.")
        charge_column = "share" if v["share"] else "budget_line"
        if v["share"] and (v["agreement_ref"] or v["budget_line"] or v["output_ref"]):
            given = ", ".join(c for c in ("agreement_ref", "budget_line", "output_ref") if v[c])
            raise RowProblem(
                "share", f"Give the charges either in share or in agreement_ref and budget_line, not both ({given})."
            )
        if not v["share"]:
            for column in ("agreement_ref", "budget_line"):
                if not v[column]:
                    raise RowProblem(
                        column,
                        "This cell is empty: give the agreement and budget line the expense is charged to "
                        "(or its charges in share).",
                    )
        charges = [self._charge(n, part, v, charge_column) for n, part in enumerate(self._parts_given(v), start=1)]
        new = NewExpense(
            reference=v["reference"],
            incurred_on=v["incurred_on"],
            paid_on=v["paid_on"],
            payee=v["payee"],
            description=v["description"],
            amount=v["amount"],
            currency=v["currency"],
            charges=charges,
            rate=v["rate"],
        )
        try:
            built = self.bulk.row(new)
        except LedgerError as error:
            raise ValidationError(_by_column(error, charge_column)) from None
        except ValidationError as error:
            raise ValidationError(_by_column(error, charge_column)) from None
        self.counts[new.currency] = self.counts.get(new.currency, 0) + 1
        self.totals[new.currency] = self.totals.get(new.currency, Decimal(0)) + new.amount
        return built

    def _charge(self, n: int, part: Part, v: dict, column: str) -> NewCharge:
        if part.amount is not None and part.currency != v["currency"]:
            label = f"Part {n} ({part.agreement_ref}:{part.budget_line}): "
            raise RowProblem(column, f"{label}the amount is in {part.currency}, the expense in {v['currency']}.")
        key = (n, part.agreement_ref, part.budget_line, part.output_ref, v["incurred_on"].year, column)
        found = self.targets.get(key)
        if found is None:
            try:
                found = self._target(n, part, v["incurred_on"], column)
            except RowProblem as problem:
                found = problem
            self.targets[key] = found
        if isinstance(found, RowProblem):
            raise RowProblem(found.column, found.message)
        line, output = found
        return NewCharge(line=line, amount=part.amount, share=part.share, output=output)

    def _target(self, n: int, part: Part, incurred_on, column: str) -> tuple[BudgetLine, Output | None]:
        """The line and output a part names (the same for every row of that year: kept per file)."""
        label = f"Part {n} ({part.agreement_ref}:{part.budget_line}): " if column == "share" else ""
        agreements = self.agreements.get(part.agreement_ref, [])
        if len(agreements) != 1:
            reason = "There is no agreement" if not agreements else "More than one agreement has"
            raise RowProblem(
                "agreement_ref" if column != "share" else column,
                f"{label}{reason} with the funder's reference {part.agreement_ref!r}.",
            )
        agreement = agreements[0]
        line = self._line(agreement, part.budget_line, incurred_on, label, column)
        output = None
        if part.output_ref:
            output_column = "output_ref" if column != "share" else column
            code, _, title = part.output_ref.partition("/")
            matches = self.outputs.get((code, title), [])
            if len(matches) != 1:
                reason = "no output" if not matches else "more than one output"
                raise RowProblem(output_column, f"{label}Programme {code} has {reason} titled {title!r}.")
            output = matches[0]
        return line, output

    def _line(self, agreement: Agreement, code: str, incurred_on, label: str, column: str) -> BudgetLine:
        """The line `code` of the agreement's current budget for the year the expense was incurred;
        a line of an older version or of a draft goes to `charge_check`, whose refusal says so."""
        column = "budget_line" if column != "share" else column
        lines = [x for x in self.lines[agreement.pk] if x.code == code]
        if not lines:
            raise RowProblem(column, f"{label}Agreement {agreement.funder_ref}'s budget has no line {code!r}.")
        currents = self.bulk.currents
        if agreement.pk not in currents:
            currents[agreement.pk] = current_budget(agreement)
        current = currents[agreement.pk]
        in_force = [x for x in lines if current is not None and x.version_id == current.pk]
        for x in in_force:
            if x.year == incurred_on.year:
                return x
        if in_force:
            years = ", ".join(str(x.year) for x in sorted(in_force, key=lambda x: x.year))
            raise RowProblem(
                column,
                f"{label}Line {code} of agreement {agreement.funder_ref}'s current budget is for {years}, "
                f"not for {incurred_on.year}, the year the expense was incurred.",
            )
        return max(lines, key=lambda x: (x.version.number, x.year == incurred_on.year))

    def write(self, rows):
        self.bulk.write(rows)

    def finish(self, outcome: Outcome, dry_run: bool):
        state = "posted" if self.post else "drafts (post each in the admin to make it count)"
        for currency in sorted(self.counts):
            total = format_money(self.totals[currency], currency)
            outcome.notes.append(f"{self.counts[currency]} expense(s) in {currency}, {total} in all, {state}.")
        if not dry_run:
            self.bulk.finish()

    # Export -----------------------------------------------------------------------------------

    @classmethod
    def export_rows(cls, queryset=None):
        """The import columns, then what the ledger worked out (`export_columns`), in that order."""
        queryset = Expense.objects.all() if queryset is None else queryset
        names = cls.export_names()
        for values in _expense_rows(queryset.order_by("incurred_on", "reference")):
            yield tuple(values[name] for name in names)


_EXPORT_FIELDS = (
    "id", "reference", "incurred_on", "paid_on", "payee", "description", "amount", "currency", "rate",
    "status", "posted_on", "rate_date", "rate_source", "base_amount", "base_currency",
    "reversal_of__reference", "reversed_by__reference", "reversal_reason",
)  # fmt: skip
_EXPORT_NAMES = dict(zip(_EXPORT_FIELDS, _EXPORT_FIELDS, strict=True)) | {
    "reversal_of__reference": "reverses",
    "reversed_by__reference": "reversed_by",
}


def _expense_rows(queryset, *, for_compare: bool = False, chunk_size: int = 2000):
    """Each expense as a dict by column name, its charges in the columns that name them, a chunk of
    expenses (and one query for their charges) at a time."""
    queryset = queryset.annotate(
        posted_on=TruncDate("posted_at"),
        base_currency=Case(When(base_amount__isnull=False, then=Value(settings.BASE_CURRENCY)), default=Value("")),
    )
    rows = amounts_in_places(queryset.values_list(*_EXPORT_FIELDS).iterator(chunk_size=chunk_size), {6: 7, 13: 14})
    while chunk := list(islice(rows, chunk_size)):
        charges: dict[int, list] = {}
        found = ExpenseCharge.objects.filter(expense_id__in=[r[0] for r in chunk]).order_by("expense_id", "id")
        for charge in found.select_related("agreement", "line", "output__programme", "line__output"):
            charges.setdefault(charge.expense_id, []).append(charge)
        for row in chunk:
            values = {_EXPORT_NAMES[name]: value for name, value in zip(_EXPORT_FIELDS, row, strict=True)}
            if not for_compare and values["rate_source"] not in ("", "entered"):
                values["rate"] = None  # looked up: an import into another ledger looks it up again
            values.update(_charge_columns(charges.get(values.pop("id"), []), values["currency"]))
            yield values


def _charge_columns(charges: list[ExpenseCharge], currency: str) -> dict:
    """An expense's charges as a file gives them: one whole charge (a share of 100%) in
    agreement_ref + budget_line + output_ref, any other in share."""

    def output_of(charge):
        return output_ref(charge.output) if charge.output_id and charge.output_id != charge.line.output_id else ""

    if len(charges) == 1 and charges[0].share == HUNDRED:
        (charge,) = charges
        return {
            "agreement_ref": charge.agreement.funder_ref,
            "budget_line": charge.line.code,
            "output_ref": output_of(charge),
            "share": None,
        }
    parts = []
    for charge in charges:
        if charge.share is not None:
            part = Part(charge.agreement.funder_ref, charge.line.code, charge.share, output_ref=output_of(charge))
        else:
            amount = money_in_places(charge.amount, currency)
            part = Part(charge.agreement.funder_ref, charge.line.code, None, amount, currency, output_of(charge))
        parts.append(part)
    return {"agreement_ref": "", "budget_line": "", "output_ref": "", "share": Shares(parts) if parts else None}


def _by_column(error, charge_column: str) -> dict:
    """A ledger error's messages by the column to show them in: an expense's own field in its column,
    everything about the charges in the column that gave them."""
    by = {}
    for field, messages in error.message_dict.items():
        for message in messages:
            if field in _EXPENSE_COLUMNS and not message.startswith("Charge "):
                column = field
            elif field == "output" and charge_column != "share":
                column = "output_ref"
            elif field == "incurred_on":
                column = "incurred_on"
            else:
                column = charge_column
            by.setdefault(column, []).append(message)
    return by
