"""Asking for a report: the reports page's form, and the period asked by the admin actions; the public
/verify/ page's upload and the answer it gives."""

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.utils import timezone

from backoffice.money import CURRENCY_CODES
from donors.models import Donor
from grants.models import Output
from spending.models import Agreement

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


class AgreementField(forms.ModelChoiceField):
    def label_from_instance(self, agreement):
        return f"{agreement.funder_ref} – {agreement.pledge.donor.name} ({agreement.pledge.ref})"


class ReportRequestForm(PeriodForm):
    """Any of the kinds, from the reports page."""

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
    agreement = AgreementField(
        queryset=Agreement.objects.select_related("pledge__donor").order_by("funder_ref", "pk"),
        required=False,
        help_text="Financial report: the funder's agreement.",
    )
    prepared_by = forms.CharField(
        required=False,
        max_length=100,
        label="Prepared by",
        help_text="Financial report: name; blank prints a line to sign.",
    )
    prepared_role = forms.CharField(required=False, max_length=100, label="Preparer's role")
    approved_by = forms.CharField(
        required=False,
        max_length=100,
        label="Approved by",
        help_text="Financial report: name; blank prints a line to sign.",
    )
    approved_role = forms.CharField(required=False, max_length=100, label="Approver's role")  # fmt: skip
    field_order = [
        "kind", "donor_ref", "output", "agreement", "start", "end", "currency", "internal",
        "prepared_by", "prepared_role", "approved_by", "approved_role",
    ]  # fmt: skip

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
        if kind == ReportRun.Kind.FINANCIAL_REPORT and not cleaned.get("agreement"):
            self.add_error("agreement", "Choose the funder's agreement.")
        if kind in (ReportRun.Kind.DONOR_SUMMARY, ReportRun.Kind.PORTFOLIO, ReportRun.Kind.FINANCIAL_REPORT):
            needs = "A financial report" if kind == ReportRun.Kind.FINANCIAL_REPORT else "A donor summary or portfolio"
            for name in ("start", "end"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, f"{needs} needs a period.")
        return cleaned

    def request_kwargs(self) -> dict:
        """The arguments for `services.report_run_request`."""
        data = self.cleaned_data
        kind = data["kind"]
        if kind == ReportRun.Kind.OUTPUT_STATEMENT:
            return {"kind": kind, "output": data["output"], "external": not data["internal"]}
        kwargs = {"kind": kind, "start": data["start"], "end": data["end"]}
        if kind == ReportRun.Kind.FINANCIAL_REPORT:
            sign_off = {
                f"{who}_by": {"name": data[f"{who}_by"], "role": data[f"{who}_role"]}
                for who in ("prepared", "approved")
            }
            kwargs |= {"agreement": data["agreement"], "sign_off": sign_off}
        if kind == ReportRun.Kind.DONOR_SUMMARY:
            kwargs |= {"donor": data["donor"], "currency": data["currency"]}
        return kwargs


# The public /verify/ page ---------------------------------------------------------------------


class VerifyForm(forms.Form):
    pdf = forms.FileField(
        label="Report PDF",
        help_text="The PDF file as you received it.",
        error_messages={"required": "Choose the report's PDF file to verify.", "empty": "The file is empty."},
    )

    def clean_pdf(self) -> bytes:
        upload = self.cleaned_data["pdf"]
        limit = settings.VERIFY_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; a report PDF checked here may be at most "
                f"{limit // (1024 * 1024)} MB."
            )
        data = upload.read()
        if not data.startswith(b"%PDF-"):
            raise forms.ValidationError(
                "The file is not a PDF (it does not begin as a PDF does). Choose the report's PDF."
            )
        return data


@dataclass(frozen=True)
class VerifiedReport:
    """What the public page says about an uploaded file: genuine or not, and for a genuine one what it
    was made from. Only what identifies the report, never what it shows: no donor, output or amount."""

    genuine: bool
    message: str
    kind: str = ""
    period: tuple[dt.date, dt.date] | None = None
    as_of: dt.date | None = None
    generated: dt.datetime | None = None
    fingerprint: str = ""
    renderer_version: int | None = None
    redacted_on: dt.date | None = None

    @classmethod
    def of(cls, verification) -> "VerifiedReport":
        run = verification.run
        if not verification.ok:
            message = (
                "This file is not genuine: it differs from the report that was made with its fingerprint. "
                "It has been changed since it was made."
                if run
                else "This file is not a report we made: no report carries its fingerprint."
            )
            return cls(False, message)
        period = (run.period_start, run.period_end) if run.period_start and run.period_end else None
        as_of = dt.date.fromisoformat(run.snapshot.get("as_of") or run.snapshot["period"]["end"])
        message = "This file is genuine: it is, byte for byte, a report we made."
        if run.redacted_on:
            message = (
                f"{message} It has since been redacted under an erasure request on {run.redacted_on:%-d %B %Y}: "
                "our copy no longer names the person erased."
            )
        return cls(
            True,
            message,
            kind=run.get_kind_display(),
            period=period,
            as_of=as_of,
            generated=run.finished_at,
            fingerprint=run.snapshot_sha256,
            renderer_version=run.renderer_version,
            redacted_on=run.redacted_on,
        )
