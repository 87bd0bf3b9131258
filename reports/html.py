"""The accessible HTML version of a report: a Django template per kind, drawn from the run's
stored snapshot (never from live figures), so it shows exactly the figures of the run's PDF,
formatted by the PDFs' own helpers (templatetags/report_format.py).

reportlab cannot tag a PDF's structure, so the PDF reads badly in a screen reader; this page is
the accessible version: headings, tables with header cells, and each chart an SVG image with a
title, a caption and its data table beside it. Staff open it from the reports page
(`reports:run_html`), donors from the signed link in their email (`delivery:report`).
"""

from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

from backoffice.models import Organisation
from backoffice.text import xml_safe

from . import charts
from .models import ReportRun
from .renderers.base import as_of, snapshot_language
from .renderers.portfolio import budget_by_programme

# Drawn in CSS pixels at their natural size, shrunk (viewBox) only on a narrower screen.
CHART_WIDTH, FONT_SIZE, LABEL_LIMIT = 640, 12, 48


def _svg(key: str, title: str, drawing, labels: list[str]) -> str:
    full_names = {charts.label_shorten(label, LABEL_LIMIT): label for label in labels}
    return charts.svg(drawing, key=key, title=xml_safe(title), full_names=full_names)


def _bars(key, title, labels, series, **options) -> str:
    labels = [xml_safe(label) for label in labels]
    drawing = charts.bar_chart(
        labels, series, width=CHART_WIDTH, font_size=FONT_SIZE, label_limit=LABEL_LIMIT, **options
    )
    return _svg(key, title, drawing, labels)


def _horizontal_bars(key, title, labels, series, **options) -> str:
    """Each label above its bars, as tall as they need: long names stay readable."""
    return _bars(key, title, labels, series, horizontal=True, labels_above=True, **options)


def report_charts(s: dict) -> dict[str, str]:
    """The kind's charts as inline SVG, by name: the charts its PDF draws, from the same rows."""
    found = {}
    if s["kind"] == ReportRun.Kind.DONOR_SUMMARY and s["by_programme"]:
        rows = s["by_programme"]
        found["by_programme"] = _horizontal_bars(
            "chart-programme", _("Your funding by programme"), [r["label"] for r in rows], [[r["amount"] for r in rows]]
        )
    elif s["kind"] == ReportRun.Kind.PORTFOLIO:
        if s["by_year"]:
            rows = s["by_year"]
            found["by_year"] = _bars(
                "chart-year", "Received by year", [r["label"] for r in rows], [[r["amount"] for r in rows]], height=220
            )
        if s["by_kind"]:
            kinds = [xml_safe(r["label"]) for r in s["by_kind"]]
            drawing = charts.pie_chart(
                kinds, [r["amount"] for r in s["by_kind"]], colours=charts.donor_kind_colours(kinds),
                width=CHART_WIDTH, height=180, font_size=FONT_SIZE, label_limit=LABEL_LIMIT,
            )  # fmt: skip
            found["by_kind"] = _svg("chart-kind", "Received by kind of donor", drawing, kinds)
        if s["outputs"]:
            programmes = budget_by_programme(s["outputs"])
            found["budget"] = _horizontal_bars(
                "chart-budget", "Funding against budget, by programme", list(programmes),
                [[str(v[0]) for v in programmes.values()], [str(v[1]) for v in programmes.values()]],
                names=["Budget", "Funded"],
            )  # fmt: skip
    elif s["kind"] == ReportRun.Kind.OUTPUT_STATEMENT and s["over_time"]:
        rows = s["over_time"]
        found["over_time"] = _bars(
            "chart-over-time",
            "Funding over time",
            [m.get("period") or m["month"] for m in rows],  # by month before renderer 7
            [[m["cumulative"] for m in rows]],
            names=["Funded to date"], height=240,
        )  # fmt: skip
    return found


def budget_rows(s: dict) -> list[dict]:
    """The portfolio's "Funding against budget" chart as table rows (the chart's text alternative)."""
    base = s["base_currency"]
    return [
        {
            "label": name,
            "budget": {"amount": str(budget), "currency": base},
            "funded": {"amount": str(funded), "currency": base},
        }
        for name, (budget, funded) in budget_by_programme(s["outputs"]).items()
    ]


def report_page(request, run: ReportRun, *, pdf_url: str):
    """The run's HTML version, in its snapshot's language. The run must be done: its snapshot is
    what the page shows."""
    s = run.snapshot
    language = snapshot_language(s)
    with translation.override(language):
        return _report_page(request, run, s, language=language, pdf_url=pdf_url)


def _report_page(request, run: ReportRun, s: dict, *, language: str, pdf_url: str):
    context = {
        "s": s,
        "run": run,
        "fingerprint": run.fingerprint,
        "as_of": as_of(s),
        "language": language,
        "charts": report_charts(s),
        "budget_rows": budget_rows(s) if s["kind"] == ReportRun.Kind.PORTFOLIO else [],
        "converted": s.get("currency", s["base_currency"]) != s["base_currency"],
        # The organisation as the report printed it (renderer 7 on); older snapshots hold none.
        "organisation": s.get("organisation") or Organisation.current().snapshot(),
        "pdf_url": pdf_url,
    }
    response = render(request, f"reports/html/{s['kind']}.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response
