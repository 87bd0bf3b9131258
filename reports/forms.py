"""Asking for a report: the reports page's form, and the period asked by the admin actions."""

import datetime as dt

from django import forms
from django.utils import timezone

from backoffice.money import CURRENCY_CODES
from donors.models import Donor
from grants.models import Output

from .models import ReportRun


def _year_to_date() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return dt.date(today.year, 1, 1), today


class PeriodForm(forms.Form):
    """A period and, for donor summaries, the currency to show (blank: the donor's own)."""

    start = forms.DateField(label="From", help_text="YYYY-MM-DD")
    end = forms.DateField(label="To", help_text="YYYY-MM-DD")
    currency = forms.CharField(
        required=False, max_length=3, help_text="Donor summaries: ISO 4217 code; blank for the donor's preferred."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        start, end = _year_to_date()
        self.fields["start"].initial, self.fields["end"].initial = start, end

    def clean_currency(self):
        code = self.cleaned_data["currency"].strip().upper()
        if code and code not in CURRENCY_CODES:
            raise forms.ValidationError(f"{code!r} is not an ISO 4217 currency code, such as GBP or EUR.")
        return code

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", f"The period ends ({end}) before it starts ({start}).")
        return cleaned


class ReportRequestForm(PeriodForm):
    """Any of the three kinds, from the reports page."""

    kind = forms.ChoiceField(choices=ReportRun.Kind.choices)
    donor_ref = forms.CharField(required=False, max_length=20, label="Donor reference", help_text="Donor summary")
    output = forms.ModelChoiceField(
        queryset=Output.objects.select_related("programme").order_by("programme__code", "title"),
        required=False,
        help_text="Output statement",
    )
    internal = forms.BooleanField(
        required=False, label="For internal use", help_text="Output statement: name every funder."
    )
    field_order = ["kind", "donor_ref", "output", "start", "end", "currency", "internal"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An output statement covers the output's whole life: no period.
        self.fields["start"].required = self.fields["end"].required = False

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == ReportRun.Kind.DONOR_SUMMARY:
            ref = cleaned.get("donor_ref", "").strip()
            donor = Donor.objects.filter(ref=ref).first() if ref else None
            if donor is None:
                self.add_error("donor_ref", f"There is no donor with reference {ref!r}." if ref else "Give a donor.")
            cleaned["donor"] = donor
        if kind == ReportRun.Kind.OUTPUT_STATEMENT and not cleaned.get("output"):
            self.add_error("output", "Choose an output.")
        if kind in (ReportRun.Kind.DONOR_SUMMARY, ReportRun.Kind.PORTFOLIO):
            for name in ("start", "end"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "A donor summary or portfolio needs a period.")
        return cleaned

    def request_kwargs(self) -> dict:
        """The arguments for `services.report_run_request`."""
        data = self.cleaned_data
        kind = data["kind"]
        if kind == ReportRun.Kind.OUTPUT_STATEMENT:
            return {"kind": kind, "output": data["output"], "external": not data["internal"]}
        kwargs = {"kind": kind, "start": data["start"], "end": data["end"]}
        if kind == ReportRun.Kind.DONOR_SUMMARY:
            kwargs |= {"donor": data["donor"], "currency": data["currency"]}
        return kwargs
