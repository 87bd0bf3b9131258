"""The donation page's Post and Reverse buttons, the pages that confirm them, and the list's
reversal action. Each page shows what will happen, from the ledger's own services (the figures
of `donors.services.donation_post_preview`, the checks of `donation_reverse_check`), and its
confirmation calls the service that posts or reverses; a refusal is shown on the page."""

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from backoffice.admin_tools import money, run_each
from backoffice.money import format_rate
from grants import services as grant_services

from . import services
from .models import Donation


class ReversalForm(forms.Form):
    # The model field's own form field: its validators (no control characters) are the rule.
    reason = Donation._meta.get_field("reversal_reason").formfield(
        required=True,
        label="Reason for the reversal",
        help_text="Required. Stored on the reversal and shown wherever it appears, for example “Bank recall”.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


def problems(error: ValidationError) -> list[str]:
    """A refusal's messages, each led by the label of the field it is about."""
    if not hasattr(error, "error_dict"):
        return error.messages
    shown = []
    for field, messages_ in error.message_dict.items():
        try:
            label = str(Donation._meta.get_field(field).verbose_name).capitalize() + ": "
        except FieldDoesNotExist:
            label = "" if field == NON_FIELD_ERRORS else f"{field}: "
        shown.extend(label + message for message in messages_)
    return shown


def rate_text(rate, currency: str) -> str:
    return f"1 {currency} = {format_rate(rate)} {settings.BASE_CURRENCY}"


def rate_date_text(rate_date, source: str) -> str:
    if source == "entered":
        return f"{rate_date} (typed on the donation)"
    if source == "base currency":
        return f"{rate_date} (the base currency: always 1)"
    return f"{rate_date} (source: {source})"


def instalment_text(donation: Donation) -> str:
    if not donation.instalment_id:
        return "None"
    instalment = donation.instalment
    return f"Due {instalment.due_date}, {money(instalment.amount, donation.pledge.currency)}"


def posting_rows(donation: Donation, figures: dict) -> list[tuple[str, str]]:
    """What posting will freeze on `donation`, as the confirmation page lists it."""
    pledge = donation.pledge
    return [
        ("Donor", str(donation.donor)),
        ("Received on", str(donation.received_on)),
        ("Amount", money(donation.amount, donation.currency)),
        ("Rate", rate_text(figures["rate"], donation.currency)),
        ("Rate date", rate_date_text(figures["rate_date"], figures["rate_source"])),
        ("Base amount", money(figures["base_amount"], settings.BASE_CURRENCY)),
        ("Pledge", str(pledge) if pledge else "None"),
        ("Instalment", instalment_text(donation)),
        ("Counts towards the pledge", money(figures["pledge_amount"], pledge.currency) if pledge else "—"),
        ("Batch", str(donation.batch) if donation.batch_id else "None"),
    ]


@dataclass
class ReversalRow:
    """A donation on the reversal page: what its reversal posts, or why it cannot be reversed."""

    donation: Donation
    problem: str
    allocated: Decimal

    @property
    def amount(self) -> str:
        return money(self.donation.amount, self.donation.currency)

    @property
    def reversal_amount(self) -> str:
        return money(-self.donation.amount, self.donation.currency)

    @property
    def base_amount(self) -> str:
        return money(self.donation.base_amount, settings.BASE_CURRENCY)

    @property
    def reversal_base_amount(self) -> str:
        return money(None if self.donation.base_amount is None else -self.donation.base_amount, settings.BASE_CURRENCY)

    @property
    def rate(self) -> str:
        d = self.donation
        if d.rate is None:
            return "—"
        return f"{rate_text(d.rate, d.currency)} of {rate_date_text(d.rate_date, d.rate_source)}"

    @property
    def allocated_text(self) -> str:
        return money(self.allocated, settings.BASE_CURRENCY)


def reversal_rows(donations) -> list[ReversalRow]:
    rows = []
    for donation in donations:
        try:
            services.donation_reverse_check(donation)
        except ValidationError as error:
            rows.append(ReversalRow(donation, " ".join(problems(error)), Decimal("0")))
            continue
        allocated = donation.base_amount - grant_services.donation_unallocated(donation)
        rows.append(ReversalRow(donation, "", allocated))
    return rows


class DonationPostingMixin:
    """For DonationAdmin: the Post and Reverse pages, the change page's buttons, the list's
    reversal action. Needs `has_post_permission` and `has_reverse_permission`."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/post/", view(self.post_view), name="{}_{}_post".format(*info)),
            path("<path:object_id>/reverse/", view(self.reverse_view), name="{}_{}_reverse".format(*info)),
            *super().get_urls(),
        ]

    def _donation(self, request, object_id) -> Donation:
        donation = self.get_object(request, unquote(object_id))
        if donation is None:
            raise Http404(f"There is no donation with id {object_id}.")
        return donation

    def _change_url(self, donation) -> str:
        return reverse("admin:donors_donation_change", args=[donation.pk])

    def _page(self, request, template, donation, title, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "donation": donation,
                "change_url": self._change_url(donation),
                **context,
            },
        )

    def post_view(self, request, object_id):
        """Confirm posting one draft: the figures it will be posted with, then `donation_post`."""
        if not self.has_post_permission(request):
            raise PermissionDenied
        donation = self._donation(request, object_id)
        refused = []
        if request.method == "POST":
            try:
                posted = services.donation_post(donation=donation, by=request.user)
            except ValidationError as error:
                refused = problems(error)
            else:
                self.message_user(
                    request,
                    f"Donation {posted.reference} posted: {money(posted.amount, posted.currency)} at "
                    f"{rate_text(posted.rate, posted.currency)} = {money(posted.base_amount, settings.BASE_CURRENCY)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(posted))
        try:
            rows = posting_rows(donation, services.donation_post_preview(donation))
        except ValidationError as error:
            rows, refused = [], refused or problems(error)
        return self._page(
            request,
            "admin/donors/donation/post_confirmation.html",
            donation,
            f"Post donation {donation.reference}",
            rows=rows,
            refused=refused,
        )

    def reverse_view(self, request, object_id):
        """Confirm reversing one posted donation, with a reason, then `donation_reverse`."""
        if not self.has_reverse_permission(request):
            raise PermissionDenied
        donation = self._donation(request, object_id)
        form = ReversalForm(request.POST if request.method == "POST" else None)
        refused = []
        if form.is_bound and form.is_valid():
            try:
                reversal = services.donation_reverse(
                    donation=donation, by=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                refused = problems(error)
            else:
                self.message_user(
                    request,
                    f"Donation {donation.reference} reversed by {reversal.reference}: "
                    f"{money(reversal.amount, reversal.currency)}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(donation))
        return self._page(
            request,
            "admin/donors/donation/reverse_confirmation.html",
            donation,
            f"Reverse donation {donation.reference}",
            form=form,
            refused=refused,
            **self._reversal_context([donation]),
        )

    @admin.action(description="Reverse selected posted donations (asks for a reason)", permissions=["reverse"])
    def reverse_selected(self, request, queryset):
        """The list's way to reverse several donations (a bank recall of a file): the same page as
        the Reverse button's, listing every selected donation, and one reason for them all."""
        form = ReversalForm(request.POST if "confirm_reversal" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            run_each(
                self,
                request,
                queryset,
                lambda d: services.donation_reverse(donation=d, by=request.user, reason=reason),
                "Donations reversed",
            )
            return None
        return TemplateResponse(
            request,
            "admin/donors/donation/reverse_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Reverse the selected donations",
                "form": form,
                **self._reversal_context(queryset.select_related("donor", "pledge", "instalment")),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "action": "reverse_selected",
            },
        )

    def _reversal_context(self, donations) -> dict:
        rows = reversal_rows(donations)
        return {"rows": rows, "reversible": any(not row.problem for row in rows)}

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context.update(self._ledger_buttons(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def _ledger_buttons(self, request, donation) -> dict:
        """The change page's Post (a draft) and Reverse (posted, neither a reversal nor reversed)."""
        if not donation.is_posted:
            allowed = self.has_post_permission(request)
            return {"post_url": reverse("admin:donors_donation_post", args=[donation.pk]) if allowed else ""}
        reversible = not donation.is_reversal and not Donation.objects.filter(reversal_of=donation).exists()
        if reversible and self.has_reverse_permission(request):
            return {"reverse_url": reverse("admin:donors_donation_reverse", args=[donation.pk])}
        return {}

    @admin.display(description="Reversal")
    def reversal_info(self, obj):
        """On the change page: what reversed this donation, or what this reversal reverses, and why."""
        if obj is None or not obj.pk:
            return "—"
        if obj.is_reversal:
            original = obj.reversal_of
            return format_html(
                'Reverses <a href="{}">{}</a>. Reason: {}',
                self._change_url(original),
                original.reference,
                obj.reversal_reason or "—",
            )
        reversal = Donation.objects.filter(reversal_of=obj).first()
        if reversal is None:
            return "—"
        return format_html(
            'Reversed by <a href="{}">{}</a> on {}. Reason: {}',
            self._change_url(reversal),
            reversal.reference,
            reversal.received_on,
            reversal.reversal_reason or "—",
        )
