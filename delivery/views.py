"""The donor's signed download link, and sending donor summaries from the reports page: a preview with
a sample PDF, then a confirmation bound to what the preview showed (delivery/mailing.py)."""

import datetime as dt
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import get_usage
from django_ratelimit.decorators import ratelimit

from backoffice.access import PageAccess
from reports.html import report_page
from reports.models import ReportRun
from reports.stale import runs_stale

from . import mailing, services
from .forms import EVERYONE, LISTED, SummariesForm
from .links import delivery_token_read
from .models import Delivery, DownloadLog

SEND = "delivery.send_donor_summaries"


def _link_rate(group, request) -> str:
    """django-ratelimit asks for the rate at each request, so the setting in force is the one applied."""
    return settings.DELIVERY_LINK_RATE_LIMIT


LINK_LIMIT = {"group": "delivery.download", "key": "ip", "rate": _link_rate}


def _delivered_run(token: str) -> tuple[Delivery, ReportRun]:
    """The delivery and the run a valid token serves; one bare 404 for every other
    case, so a token reveals nothing.

    A link to a run that a later one replaced serves the later run; a link to a stale run
    (reports/stale.py) serves nothing until a mailing has replaced it."""
    delivery_id = delivery_token_read(token)
    delivery = (
        Delivery.objects.select_related("run__superseded_by", "contact")
        .defer("run__snapshot", "run__superseded_by__snapshot")  # read only by the HTML version
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
    return delivery, run


def _donor_link(format: str):
    """A page behind a donor's signed link: no login, never cached, no referrer, not indexed.
    Outside the request's transaction: a bad token ends in Http404, whose rollback would undo its
    count. Past DELIVERY_LINK_RATE_LIMIT requests from one address, good tokens or bad, the answer is 429."""

    def decorate(view):
        @transaction.non_atomic_requests
        @require_GET
        @never_cache
        @ratelimit(**LINK_LIMIT, block=False)
        @wraps(view)
        def wrapper(request, token: str):
            if request.limited:
                return too_many_requests(request)
            delivery, run = _delivered_run(token)
            response = view(request, token, delivery, run)
            DownloadLog.objects.create(delivery=delivery, ip=request.META.get("REMOTE_ADDR") or None, format=format)
            response["Referrer-Policy"] = "no-referrer"
            response["X-Robots-Tag"] = "noindex"
            return response

        return wrapper

    return decorate


@_donor_link(DownloadLog.Format.PDF)
def download(request, token: str, delivery: Delivery, run: ReportRun):
    """The run's PDF, as an attachment named for the reader (ReportRun.reader_filename)."""
    return FileResponse(
        run.pdf.open("rb"), as_attachment=True, filename=run.reader_filename, content_type="application/pdf"
    )


@_donor_link(DownloadLog.Format.HTML)
def report(request, token: str, delivery: Delivery, run: ReportRun):
    """The run's accessible HTML version (reports/html.py), with a link to its PDF."""
    return report_page(request, run, pdf_url=reverse("delivery:download", args=[token]))


def too_many_requests(request):
    usage = get_usage(request, **LINK_LIMIT)
    wait = max(usage["time_left"], 1) if usage else 60
    response = render(request, "delivery/too_many_requests.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


# Sending donor summaries: preview, sample, confirmation ----------------------------------------


SEND_SUMMARIES = PageAccess(
    name="Send donor summaries",
    about="This previews and sends donor summaries by email.",
    rule=lambda has: has(SEND),
)


def _allowed(request):
    SEND_SUMMARIES.check(request.user)


def _preview_page(request, form, preview, status=200):
    sample = preview.sample() if preview else None
    context = {
        **admin.site.each_context(request),
        "title": "Send donor summaries",
        "form": form,
        "preview": preview,
        "rows": preview.rows() if preview else [],
        "token": preview.token() if preview and preview.contacts else "",
        "sample": sample,
        "sample_url": sample
        and f"{reverse('delivery:summaries_sample')}?"
        + urlencode({"start": preview.start, "end": preview.end, "donor": sample.donor.ref}),
    }
    return render(request, "delivery/summaries_preview.html", context, status=status)


@never_cache
@login_required
@require_GET
def summaries_preview(request):
    """Who would get what; sends nothing. The confirmation it offers is bound to what it shows."""
    _allowed(request)
    form = SummariesForm(request.GET or None)
    preview = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            preview = mailing.mailing_preview(start=data["start"], end=data["end"], refs=data["refs"])
        except services.DeliveryError as error:
            form.add_error(None, error)
    return _preview_page(request, form, preview)


@never_cache
@login_required
@require_GET
def summaries_sample(request):
    """One donor's summary as the preview's sample, shown in the browser; sent to nobody, stored nowhere."""
    _allowed(request)
    try:
        start, end = dt.date.fromisoformat(request.GET["start"]), dt.date.fromisoformat(request.GET["end"])
        plans = services.summaries_plan(start=start, end=end, refs=[request.GET["donor"]])
    except (KeyError, ValueError, services.DeliveryError):
        raise Http404("No such donor summary.") from None
    if not plans:
        raise Http404("The donor has no posted donation in the period.")
    pdf, filename = mailing.summary_sample(plan=plans[0], start=start, end=end)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


@login_required
@require_POST
def summaries_send(request):
    """The confirmation: sends what the preview showed, or refuses and says why."""
    _allowed(request)
    try:
        done = mailing.mailing_confirm(token=request.POST.get("token", ""), by=request.user)
    except mailing.MailingChanged as changed:
        messages.error(request, " ".join(changed.messages))
        preview = changed.preview
        initial = {"start": preview.start, "end": preview.end}
        initial |= {"audience": LISTED, "donors": " ".join(preview.refs)} if preview.refs else {"audience": EVERYONE}
        return _preview_page(request, SummariesForm(initial=initial), preview, status=409)
    except services.DeliveryError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reports:run_list")
    (messages.success if done.queued else messages.warning)(request, done.message())
    start, end = done.preview.start, done.preview.end
    return redirect(f"{reverse('reports:run_list')}?summaries={start:%Y-%m-%d}_{end:%Y-%m-%d}")


def period_from_query(value: str) -> tuple[dt.date, dt.date] | None:
    try:
        start, end = value.split("_")
        return dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        return None
