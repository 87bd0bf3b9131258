"""The leadership dashboard: key figures, charts and lists for a period (and a programme), and
a button that generates the portfolio PDF for that period in the background."""

import datetime as dt
from functools import wraps

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from backoffice.access import PageAccess
from backoffice.text import xml_safe
from donors.selectors import next_steps
from grants.models import Programme
from reports import charts
from reports.models import ReportRun
from reports.services import ReportError, report_run_request

from .figures import dashboard_figures

VIEW, GENERATE, DOWNLOAD = "reports.view_dashboard", "reports.generate_report", "reports.download_report"

NEXT_STEPS_WITHIN = 14  # days ahead that a user's own next steps show

DASHBOARD = PageAccess(
    name="Dashboard",
    about="The funding dashboard shows the portfolio's key figures, charts and overdue items for a period.",
    rule=lambda has: has(VIEW),
)
PORTFOLIO_PDF = PageAccess(
    name="Portfolio PDF",
    about="This generates the dashboard's portfolio PDF for the period shown, to download.",
    rule=lambda has: has(VIEW) and has(GENERATE) and has(DOWNLOAD),
)
PORTFOLIO_PDF_STATUS = PageAccess(
    name="Portfolio PDF status",
    about="This follows a portfolio PDF while it is generated.",
    rule=lambda has: has(VIEW) and has(DOWNLOAD),
)


def dashboard_view(view):
    """Signed-in users the dashboard is open to only; no response is kept by a browser or proxy cache."""

    @never_cache
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        DASHBOARD.check(request.user)
        return view(request, *args, **kwargs)

    return wrapper


class FilterForm(forms.Form):
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    programme = forms.ModelChoiceField(Programme.objects.order_by("name"), required=False, empty_label="All programmes")

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or dt.date(data["end"].year, 1, 1)
        if data["end"] < data["start"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


def _period(request) -> tuple[FilterForm, dt.date, dt.date, Programme | None]:
    form = FilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        return form, data["start"], data["end"], data["programme"]
    end = timezone.localdate()
    return form, dt.date(end.year, 1, 1), end, None


def _labels(values) -> list[str]:
    """Chart labels are drawn into SVG: a stored name with a character XML cannot hold (written
    before the text rule, or by raw SQL) is shown with U+FFFD rather than breaking the page."""
    return [xml_safe(str(value)) for value in values]


# Charts are drawn for a phone's width, in units that are CSS pixels at their natural size: the
# page shows them at that size and shrinks them (viewBox) only on a narrower screen, so their text
# stays at FONT_SIZE px on a laptop and above 12 px on a 390 px phone.
CHART_WIDTH, FONT_SIZE, LABEL_LIMIT = 360, 14, 38


def _bars(labels: list[str], series, **options):
    """A horizontal bar chart with each label above its bars, as tall as they need."""
    return charts.bar_chart(labels, series, horizontal=True, labels_above=True, width=CHART_WIDTH, font_size=FONT_SIZE,
                            label_limit=LABEL_LIMIT, **options)  # fmt: skip


def _charts(f: dict) -> list[dict]:
    base = f["base_currency"]
    found = []
    if f["by_kind"]:
        kinds = [r["label"] for r in f["by_kind"]]
        found.append({
            "key": "chart-kind", "title": "Received by kind of donor", "unit": base,
            "svg": charts.pie_chart(_labels(kinds), [str(r["amount"]) for r in f["by_kind"]],
                                    colours=charts.donor_kind_colours(kinds),
                                    width=CHART_WIDTH, height=140, font_size=FONT_SIZE, label_limit=LABEL_LIMIT),
            "columns": ["Kind of donor", f"Received ({base})"],
            "rows": [[r["label"], r["amount"]] for r in f["by_kind"]],
        })  # fmt: skip
    found.append({
        "key": "chart-years", "title": f"Pledged and received, last {len(f['by_year'])} years", "unit": base,
        "svg": charts.bar_chart(_labels(r["label"] for r in f["by_year"]),
                                [[str(r["pledged"]) for r in f["by_year"]], [str(r["received"]) for r in f["by_year"]]],
                                names=["Pledged", "Received"], width=CHART_WIDTH, height=210, font_size=FONT_SIZE),
        "columns": ["Year", f"Pledged ({base})", f"Received ({base})"],
        "rows": [[r["label"], r["pledged"], r["received"]] for r in f["by_year"]],
    })  # fmt: skip
    if f["by_programme"]:
        found.append({
            "key": "chart-programmes", "title": "Funding against budget, by programme", "unit": base,
            "svg": _bars(_labels(r["label"] for r in f["by_programme"]),
                         [[str(r["budget"]) for r in f["by_programme"]], [str(r["funded"]) for r in f["by_programme"]]],
                         names=["Budget", "Funded"]),
            "columns": ["Programme", f"Budget ({base})", f"Funded ({base})"],
            "rows": [[r["label"], r["budget"], r["funded"]] for r in f["by_programme"]],
        })  # fmt: skip
    if f["gaps"]:
        found.append({
            "key": "chart-gaps", "title": "Largest funding gaps, by output", "unit": base,
            "svg": _bars(_labels(o.title for o in f["gaps"]), [[str(o.gap) for o in f["gaps"]]]),
            "columns": ["Output", f"Budget ({base})", f"Funded ({base})", f"Gap ({base})"],
            "rows": [[o.title, o.budget, o.allocated, o.gap] for o in f["gaps"]],
        })  # fmt: skip
    for chart in found:
        names = {charts.label_shorten(label, LABEL_LIMIT): label for label in _labels(row[0] for row in chart["rows"])}
        chart["svg"] = charts.svg(chart["svg"], key=chart["key"], title=xml_safe(chart["title"]), full_names=names)
    return found


@require_GET
@dashboard_view
def index(request):
    form, start, end, programme = _period(request)
    f = dashboard_figures(start=start, end=end, programme=programme)
    return render(
        request,
        "dashboard/index.html",
        {
            "form": form,
            "start": start,
            "end": end,
            "programme": programme,
            "f": f,
            "charts": _charts(f),
            "can_generate": PORTFOLIO_PDF.allows(request.user),
            "next_steps": next_steps(user=request.user, within_days=NEXT_STEPS_WITHIN),
            "next_steps_within": NEXT_STEPS_WITHIN,
            "today": timezone.localdate(),
            "query": request.GET.urlencode(),
        },
    )


@require_POST
@dashboard_view
def report_request(request):
    """Queue the portfolio PDF for the period on the page; JSON for the page's script, a redirect without it."""
    PORTFOLIO_PDF.check(request.user)
    form = FilterForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": " ".join(form.errors.get("__all__", ["Invalid period."]))}, status=400)
    try:
        data = form.cleaned_data
        run = report_run_request(kind=ReportRun.Kind.PORTFOLIO, by=request.user, start=data["start"], end=data["end"])
    except ReportError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(_status(run), status=202)
    return redirect("reports:run_list")


@require_GET
@dashboard_view
def report_status(request, pk: int):
    PORTFOLIO_PDF_STATUS.check(request.user)
    return JsonResponse(_status(get_object_or_404(ReportRun, pk=pk, kind=ReportRun.Kind.PORTFOLIO)))


def _status(run: ReportRun) -> dict:
    run.refresh_from_db(fields=["status", "error", "snapshot_sha256"])
    done = run.status == ReportRun.Status.DONE
    return {
        "id": run.pk,
        "status": run.status,
        "label": run.get_status_display(),
        "error": run.error,
        "fingerprint": run.fingerprint,
        "status_url": reverse("dashboard:report_status", args=[run.pk]),
        "download_url": reverse("reports:run_download", args=[run.pk]) if done else None,
    }
