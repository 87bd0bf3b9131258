"""Import and export rules for outputs and indicators.

An output has no reference of its own, so a row is matched by programme code + title; two
recorded outputs with the same programme and title make such a row an error (ambiguous).
"""

from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError

from backoffice.errors import LedgerError
from donors.models import Donation
from grants.models import Allocation, Indicator, Output, Programme
from grants.services import allocation_create

from . import fields as f
from .engine import Column, Importer, RowProblem
from .export import amounts_in_places


def _budget(value):
    amount = f.money(value, positive=False)
    if amount < 0:
        raise f.CellError(f"{value!r} must not be negative")
    return amount


def _optional(name, parse, help="", example=""):
    return Column(name, parse, required=False, default=None, help=help, example=example)


class _Programmes:
    def __init__(self):
        self.ids: dict[str, int] = {}

    def fill(self, codes):
        missing = set(codes) - set(self.ids)
        if missing:
            self.ids.update(Programme.objects.filter(code__in=missing).values_list("code", "id"))

    def get(self, code):
        try:
            return self.ids[code]
        except KeyError:
            raise RowProblem("programme_code", f"There is no programme with code {code!r}.") from None


class OutputImporter(Importer):
    kind = "output"
    model = Output
    key = ("programme_code", "title")
    columns = [
        Column(
            "programme_code",
            partial(f.text, max_length=20),
            help="A recorded programme; with title, the row's key.",
            example="INTEL",
        ),
        Column("kind", partial(f.choice, choices=Output.Kind.choices), example="resource"),
        Column("title", partial(f.text, max_length=300), example="Global Threat Assessment 2025"),
        Column(
            "description",
            partial(f.text, notes=True),
            required=False,
            default="",
            example="The biennial assessment of online child sexual exploitation.",
        ),
        _optional("start_date", f.date, example="2025-01-01"),
        _optional("end_date", f.date, help="Not before start_date.", example="2025-11-30"),
        Column(
            "location",
            partial(f.text, max_length=200),
            required=False,
            default="",
            help="For events.",
            example="Nairobi",
        ),
        Column(
            "status",
            partial(f.choice, choices=Output.Status.choices),
            required=False,
            default="planned",
            example="in_progress",
        ),
        Column(
            "budget",
            _budget,
            format=(
                "Amount: digits, '.' and at most its currency's decimals (JPY none, GBP 2, KWD 3), "
                "no thousands separators; zero or more"
            ),
            help="In the base currency.",
            example="250000.00",
        ),
        Column(
            "public_url",
            partial(f.text, max_length=200),
            required=False,
            default="",
            example="https://example.org/gta-2025",
        ),
    ]
    fields = (
        "programme__code",
        "kind",
        "title",
        "description",
        "start_date",
        "end_date",
        "location",
        "status",
        "budget",
        "public_url",
    )

    def start(self):
        self.programmes = _Programmes()

    def load(self, rows):
        self.programmes.fill(r["programme_code"] for r in rows)
        recorded = {}
        self.ambiguous = set()
        titles = {r["title"] for r in rows}
        found = Output.objects.filter(title__in=titles).values_list(*self.fields)
        for values in amounts_in_places(found, {self.fields.index("budget"): settings.BASE_CURRENCY}):
            row = dict(zip(self.column_names(), values, strict=True))
            key = (row["programme_code"], row["title"])
            if key in recorded:
                self.ambiguous.add(key)
            recorded[key] = row
        for key in self.ambiguous:
            recorded.pop(key)
        return recorded

    def build(self, row):
        key = self.key_of(row.values)
        if key in self.ambiguous:
            raise RowProblem("title", f"Programme {key[0]} has more than one output titled {key[1]!r}.")
        values = dict(row.values)
        output = Output(programme_id=self.programmes.get(values.pop("programme_code")), **values)
        output.full_clean(exclude=["programme"], validate_unique=False, validate_constraints=False)
        return output

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Output.objects.order_by("programme__code", "title") if queryset is None else queryset
        rows = queryset.values_list(*cls.fields).iterator(chunk_size=2000)
        yield from amounts_in_places(rows, {cls.fields.index("budget"): settings.BASE_CURRENCY})


class IndicatorImporter(Importer):
    kind = "indicator"
    model = Indicator
    key = ("programme_code", "output_title", "name")
    columns = [
        Column("programme_code", partial(f.text, max_length=20), example="INTEL"),
        Column(
            "output_title",
            partial(f.text, max_length=300),
            help="With programme_code, a recorded output.",
            example="Global Threat Assessment 2025",
        ),
        Column("name", partial(f.text, max_length=200), help="With the output, the row's key.", example="Downloads"),
        Column("unit", partial(f.text, max_length=50), example="downloads"),
        Column("baseline", f.decimal, required=False, default=None, blank_means="0", example="0"),
        Column("target", f.decimal, example="20000"),
        _optional("actual", f.decimal, example="12500"),
        _optional("as_of", f.date, help="The day actual was measured.", example="2025-06-30"),
    ]
    fields = ("output__programme__code", "output__title", "name", "unit", "baseline", "target", "actual", "as_of")

    def load(self, rows):
        titles = {r["output_title"] for r in rows}
        self.outputs: dict[tuple, list[int]] = {}
        for pk, code, title in Output.objects.filter(title__in=titles).values_list("id", "programme__code", "title"):
            self.outputs.setdefault((code, title), []).append(pk)
        recorded = Indicator.objects.filter(output__title__in=titles).values_list(*self.fields)
        return {tuple(v[:3]): dict(zip(self.column_names(), v, strict=True)) for v in recorded}

    def build(self, row):
        v = dict(row.values)
        matches = self.outputs.get((v["programme_code"], v["output_title"]), [])
        if len(matches) != 1:
            reason = "no output" if not matches else "more than one output"
            raise RowProblem(
                "output_title", f"Programme {v['programme_code']} has {reason} titled {v['output_title']!r}."
            )
        del v["programme_code"], v["output_title"]
        if v["baseline"] is None:
            del v["baseline"]
        indicator = Indicator(output_id=matches[0], **v)
        indicator.full_clean(exclude=["output"], validate_unique=False, validate_constraints=False)
        return indicator

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = (
            Indicator.objects.order_by("output__programme__code", "output__title", "name")
            if queryset is None
            else queryset
        )
        yield from queryset.values_list(*cls.fields).iterator(chunk_size=2000)


class AllocationImporter(Importer):
    """Received money applied to outputs, one row per allocation.

    An allocation has no reference of its own: a row is matched by donation reference +
    output (programme code + title, as in the outputs file) + allocated_on. Each new row
    goes through `grants.services.allocation_create` (and so `allocation_check`) as it is
    read, inside the import's one transaction: a later row of the same donation is checked
    against what the earlier rows took, and a bad row anywhere rolls every row back.
    Planned allocations (from pledges) and reversals are not imported, nor exported.
    """

    kind = "allocation"
    model = Allocation
    key = ("donation_reference", "programme_code", "output_title", "allocated_on")
    chunk_size = 1000
    columns = [
        Column(
            "donation_reference",
            partial(f.text, max_length=100),
            help="A posted donation's reference.",
            example="BANK-250314-07",
        ),
        Column("programme_code", partial(f.text, max_length=20), example="INTEL"),
        Column(
            "output_title",
            partial(f.text, max_length=300),
            help="With programme_code, a recorded output.",
            example="Global Threat Assessment 2025",
        ),
        Column("amount", f.money, help="In the base currency.", example="10000.00"),
        Column("allocated_on", f.date, help="With the donation and the output, the row's key.", example="2025-03-31"),
        Column("note", partial(f.text, max_length=300), required=False, default="", example="Board decision 2025/03"),
    ]
    fields = (
        "donation__reference",
        "output__programme__code",
        "output__title",
        "amount",
        "allocated_on",
        "note",
    )
    _service_columns = {"donation": "donation_reference", "output": "output_title", "amount": "amount"}

    def load(self, rows):

        references = {r["donation_reference"] for r in rows}
        titles = {r["output_title"] for r in rows}
        self.donations = {d.reference: d for d in Donation.objects.filter(reference__in=references)}
        self.outputs: dict[tuple, list[Output]] = {}
        for output in Output.objects.filter(title__in=titles).select_related("programme"):
            self.outputs.setdefault((output.programme.code, output.title), []).append(output)
        recorded, self.ambiguous = {}, set()
        found = self.received().filter(donation__reference__in=references).values_list(*self.fields)
        for values in amounts_in_places(found, {self.fields.index("amount"): settings.BASE_CURRENCY}):
            row = dict(zip(self.column_names(), values, strict=True))
            key = self.key_of(row)
            if key in recorded:
                self.ambiguous.add(key)
            recorded[key] = row
        for key in self.ambiguous:
            recorded.pop(key)
        return recorded

    def build(self, row):

        v = row.values
        key = self.key_of(v)
        if key in self.ambiguous:
            raise RowProblem("allocated_on", f"{self.key_text(key)} matches more than one recorded allocation.")
        donation = self.donations.get(v["donation_reference"])
        if donation is None:
            raise RowProblem("donation_reference", f"There is no donation with reference {v['donation_reference']!r}.")
        matches = self.outputs.get((v["programme_code"], v["output_title"]), [])
        if len(matches) != 1:
            reason = "no output" if not matches else "more than one output"
            raise RowProblem(
                "output_title", f"Programme {v['programme_code']} has {reason} titled {v['output_title']!r}."
            )
        try:
            return allocation_create(
                donation=donation,
                output=matches[0],
                amount=v["amount"],
                by=self.user,
                note=v["note"],
                on=v["allocated_on"],
            )
        except LedgerError as error:
            if not hasattr(error, "error_dict"):
                raise
            raise ValidationError(
                {self._service_columns.get(field, ""): errors for field, errors in error.message_dict.items()}
            ) from None

    def write(self, instances):
        """Nothing left to write: `allocation_create` saved each row (with its history) in build."""

    @staticmethod
    def received():
        return Allocation.objects.filter(donation__isnull=False, reversal_of__isnull=True)

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = (
            cls.received() if queryset is None else queryset.filter(donation__isnull=False, reversal_of__isnull=True)
        )
        queryset = queryset.order_by("donation__reference", "output__programme__code", "output__title", "allocated_on")
        rows = queryset.values_list(*cls.fields).iterator(chunk_size=2000)
        yield from amounts_in_places(rows, {cls.fields.index("amount"): settings.BASE_CURRENCY})
