"""The audit pack's pages: asking for one for an agreement and a period, and downloading it."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from backoffice.access import PageAccess

from .audit_pack import audit_pack_request
from .models import Agreement, AuditPack

AUDIT_PACK = PageAccess(
    name="Audit pack",
    about=(
        "An audit pack holds every transaction, conversion, budget version and change behind an agreement's "
        "figures, as one ZIP for the auditor."
    ),
    rule=lambda has: has("spending.view_auditpack") and has("spending.view_agreement"),
)


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))


@never_cache
@login_required
def audit_pack_new(request, agreement_id: int):
    AUDIT_PACK.check(request.user)
    agreement = get_object_or_404(Agreement.objects.select_related("pledge"), pk=agreement_id)
    change_url = reverse("admin:spending_agreement_change", args=[agreement.pk])
    end = min(timezone.localdate(), agreement.end_date)
    form = PeriodForm(request.POST or None, initial={"start": agreement.start_date, "end": end})
    if request.method == "POST" and form.is_valid():
        try:
            pack = audit_pack_request(
                agreement=agreement, start=form.cleaned_data["start"], end=form.cleaned_data["end"], by=request.user
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error("start" if field == "period_start" else "end", problems)
        else:
            messages.success(request, f"{pack} is being made; it is listed below, to download when ready.")
            return redirect(change_url + "#audit-packs")
    return render(
        request,
        "spending/audit_pack_new.html",
        {"agreement": agreement, "form": form, "change_url": change_url, "title": "Audit pack"},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
def audit_pack_download(request, pk: int):
    AUDIT_PACK.check(request.user)
    pack = get_object_or_404(AuditPack.objects.select_related("agreement"), pk=pk)
    if pack.status != AuditPack.Status.DONE:
        raise Http404("This audit pack is not ready.")
    return FileResponse(pack.file.open("rb"), as_attachment=True, filename=pack.filename,
                        content_type="application/zip")  # fmt: skip
