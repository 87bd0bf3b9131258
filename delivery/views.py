"""The donor's signed download link, and the reports page's "send donor summaries" form."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit

from reports.models import ReportRun
from reports.stale import runs_stale

from . import services
from .links import delivery_token_read
from .models import Delivery, DownloadLog

SEND = "delivery.send_donor_summaries"


def _link_rate(group, request) -> str:
    """django-ratelimit asks for the rate at each request, so the setting in force is the one applied."""
    return settings.DELIVERY_LINK_RATE_LIMIT


LINK_LIMIT = {"group": "delivery.download", "key": "ip", "rate": _link_rate}


# Outside the request's transaction: a bad token ends in Http404, whose rollback would undo its count.
@transaction.non_atomic_requests
@require_GET
@never_cache
@ratelimit(**LINK_LIMIT, block=False)
def download(request, token: str):
    """The PDF for a valid token; one bare 404 for every other case, so a token reveals nothing.

    A link to a run that a later one replaced serves the later run; a link to a stale run
    (reports/stale.py) serves nothing until a mailing has replaced it. Past
    DELIVERY_LINK_RATE_LIMIT requests from one address, good tokens or bad, the answer is 429."""
    if request.limited:
        return too_many_requests(request)
    delivery_id = delivery_token_read(token)
    delivery = (
        Delivery.objects.select_related("run__superseded_by", "contact")
        .defer("run__snapshot", "run__superseded_by__snapshot")
        .filter(pk=delivery_id, revoked_at__isnull=True)
        .first()
        if delivery_id is not None
        else None
    )
    run = delivery and (delivery.run.superseded_by or delivery.run)
    if (
        run is None
        or run.status != ReportRun.Status.DONE
        or not run.pdf
        or run.donor_id != delivery.contact.donor_id
        or runs_stale([run])
    ):
        raise Http404
    DownloadLog.objects.create(delivery=delivery, ip=request.META.get("REMOTE_ADDR") or None)
    response = FileResponse(
        run.pdf.open("rb"), as_attachment=True, filename=run.filename, content_type="application/pdf"
    )
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def too_many_requests(request):
    usage = get_usage(request, **LINK_LIMIT)
    wait = max(usage["time_left"], 1) if usage else 60
    response = render(request, "delivery/too_many_requests.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


class SummariesForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    donors = forms.CharField(required=False, help_text="Donor references separated by spaces; blank for all.")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


@login_required
@require_POST
def summaries_send(request):
    if not request.user.has_perm(SEND):
        raise PermissionDenied
    form = SummariesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("reports:run_list")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    refs = form.cleaned_data["donors"].split() or None
    try:
        run_ids = services.summaries_request(start=start, end=end, refs=refs, by=request.user)
    except services.DeliveryError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reports:run_list")
    messages.success(request, f"Donor summaries for {len(run_ids)} donors are being generated and sent.")
    return redirect(f"{_list_url()}?summaries={start:%Y-%m-%d}_{end:%Y-%m-%d}")


def _list_url() -> str:
    from django.urls import reverse

    return reverse("reports:run_list")


def period_from_query(value: str) -> tuple[dt.date, dt.date] | None:
    try:
        start, end = value.split("_")
        return dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        return None
