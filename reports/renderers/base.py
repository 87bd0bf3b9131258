"""The base renderer: page templates, fonts, styles, header and footer, chart helpers.

A subclass only builds its story from a snapshot. Nothing here reads the database or the
clock: the same snapshot gives the same bytes (reportlab's invariant mode fixes the creation
date; the PDF's document ID is taken from the snapshot's SHA-256).
"""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import STATE_DEFAULTS, Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from backoffice.money import format_money

from ..snapshot import snapshot_sha256

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
RULE = colors.HexColor("#cbd2d9")
BAND = colors.HexColor("#f0f4f8")
ACCENT = colors.HexColor("#2f5d8a")
SERIES = [ACCENT, colors.HexColor("#8fb3d9"), colors.HexColor("#c97b2f"), colors.HexColor("#6b8f71"),
          colors.HexColor("#a05d8c"), colors.HexColor("#9aa5b1"), colors.HexColor("#d4b35f")]  # fmt: skip


def fonts_register() -> None:
    """Embed DejaVu Sans (Latin Extended, Cyrillic, Greek), shipped in reports/fonts/."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
    # Charts start each drawing in the graphics default font (Times-Roman, not embedded).
    STATE_DEFAULTS["fontName"] = FONT


# Formatting: the one place that turns snapshot strings into printed text --------------------


def fmt_money(value: dict) -> str:
    return format_money(Decimal(value["amount"]), value["currency"])


def fmt_date(value: str | None) -> str:
    if not value:
        return "—"
    d = dt.date.fromisoformat(value)
    return f"{d.day} {d:%b %Y}"


def fmt_period(period: dict) -> str:
    return f"{fmt_date(period['start'])} – {fmt_date(period['end'])}"


def fmt_share(value: str) -> str:
    return f"{Decimal(value) * 100:.1f}%"


def fmt_number(value: str | None) -> str:
    if value is None:
        return "—"
    d = Decimal(value)
    return f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,.2f}"


class NumberedCanvas(Canvas):
    """Holds every page until the end so each footer can say "Page x of y"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages = []

    def showPage(self):  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Page {number} of {total}")
            super().showPage()
        super().save()


class ReportRenderer:
    """Render a snapshot to PDF bytes. Subclasses implement `story()` (and `subject()`)."""

    pagesize = A4
    margin = 18 * mm

    def __init__(self):
        fonts_register()
        self.styles = self._styles()

    # Subclass hooks -------------------------------------------------------------------------

    def story(self) -> list:
        raise NotImplementedError

    def subject(self) -> str:
        return ""

    # Rendering ----------------------------------------------------------------------------------

    def render(self, snapshot: dict) -> bytes:
        self.s = snapshot
        self.sha = snapshot_sha256(snapshot)
        self.fingerprint = self.sha[:12]
        buffer = io.BytesIO()
        width, height = self.pagesize
        frame_first = Frame(self.margin, 16 * mm, width - 2 * self.margin, height - 16 * mm - 22 * mm, id="first")
        frame_later = Frame(self.margin, 16 * mm, width - 2 * self.margin, height - 16 * mm - 22 * mm, id="later")
        doc = BaseDocTemplate(
            buffer,
            pagesize=self.pagesize,
            invariant=1,
            initialFontName=FONT,
            title=f"{snapshot['title']}: {self.subject()}",
            author="Fundtrace",
            creator="Fundtrace",
            subject=f"Fundtrace report snapshot sha256:{self.sha}",
            keywords=f"fundtrace, {snapshot['kind']}, sha256:{self.sha}",
            leftMargin=self.margin,
            rightMargin=self.margin,
        )
        doc.addPageTemplates(
            [
                PageTemplate(id="First", frames=[frame_first], onPage=self._page),
                PageTemplate(id="Later", frames=[frame_later], onPage=self._page),
            ]
        )
        doc.build([NextPageTemplate("Later"), *self.story()], canvasmaker=NumberedCanvas)
        return buffer.getvalue()

    def _page(self, canvas, doc):
        # The document ID is normally an MD5 of the content; derive it from the snapshot instead.
        canvas._doc._ID = b"\n[<%s><%s>]\n" % (self.sha[:32].encode(), self.sha[32:].encode())
        width, height = self.pagesize
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(self.margin, height - 15 * mm, width - self.margin, height - 15 * mm)
        canvas.line(self.margin, 14 * mm, width - self.margin, 14 * mm)
        canvas.setFont(FONT_BOLD, 8)
        canvas.setFillColor(ACCENT)
        canvas.drawString(self.margin, height - 12.5 * mm, f"Fundtrace · {self.s['title']}")
        canvas.setFont(FONT, 8)
        canvas.setFillColor(MUTED)
        canvas.drawRightString(width - self.margin, height - 12.5 * mm, self.subject()[:75])
        canvas.setFont(FONT, 7.5)
        canvas.drawString(self.margin, 10 * mm, f"Fingerprint {self.fingerprint} · check with manage.py verify_report")
        canvas.restoreState()

    # Styles and building blocks -----------------------------------------------------------------

    def _styles(self) -> dict:
        body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12.5, textColor=INK, spaceAfter=4)
        return {
            "body": body,
            "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=10, textColor=MUTED),
            "title": ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=18, leading=22, spaceAfter=2),
            "subtitle": ParagraphStyle("subtitle", parent=body, fontSize=10.5, leading=14, textColor=MUTED),
            "h2": ParagraphStyle(
                "h2", parent=body, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=12, spaceAfter=5,
                textColor=ACCENT, keepWithNext=1,
            ),
            "h3": ParagraphStyle(
                "h3", parent=body, fontName=FONT_BOLD, fontSize=9.5, leading=12.5, spaceBefore=8, keepWithNext=1
            ),
            "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10, spaceAfter=0),
            "cell_bold": ParagraphStyle("cell_bold", parent=body, fontName=FONT_BOLD, fontSize=8, leading=10),
            "num": ParagraphStyle("num", parent=body, fontSize=8, leading=10, alignment=TA_RIGHT, spaceAfter=0),
        }  # fmt: skip

    def para(self, text: str, style: str = "body") -> Paragraph:
        """A paragraph of plain text: whatever a user typed prints as typed."""
        return Paragraph(escape(text or ""), self.styles[style])

    def markup(self, markup: str, style: str = "body") -> Paragraph:
        """A paragraph of our own markup; every user value in it must already be escaped."""
        return Paragraph(markup, self.styles[style])

    def heading(self, text: str) -> Paragraph:
        return self.para(text, "h2")

    def cell(self, text: str) -> Paragraph:
        return self.para(text, "cell")

    def table(self, header, rows, widths, *, numeric=(), total=None) -> Table:
        """A ruled table whose header repeats on every page; `numeric` columns align right."""
        data = [list(header), *rows]
        if total:
            data.append(list(total))
        table = Table(data, colWidths=widths, repeatRows=1, splitByRow=1, hAlign="LEFT")
        style = [
            ("FONT", (0, 0), (-1, -1), FONT, 8),
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("BACKGROUND", (0, 0), (-1, 0), BAND),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, ACCENT),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]
        for col in numeric:
            style.append(("ALIGN", (col, 0), (col, -1), "RIGHT"))
        if total:
            style += [("FONT", (0, -1), (-1, -1), FONT_BOLD, 8), ("LINEABOVE", (0, -1), (-1, -1), 0.6, INK)]
        table.setStyle(TableStyle(style))
        return table

    def figures_table(self, figures, *, base_column: bool) -> Table:
        rows = []
        for f in figures:
            row = [self.cell(f["label"]), fmt_money(f["value"])]
            if base_column:
                row.append(fmt_money(f["base"]))
            rows.append(row)
        header = ["", "Amount", f"{self.s['base_currency']} equivalent"] if base_column else ["", "Amount"]
        widths = [80 * mm, 45 * mm, 45 * mm] if base_column else [110 * mm, 50 * mm]
        return self.table(header, rows, widths, numeric=range(1, len(header)))

    def empty(self, text: str) -> Paragraph:
        return self.para(text, "small")

    def keep(self, *flowables) -> KeepTogether:
        return KeepTogether(list(flowables))

    def spacer(self, height=4 * mm) -> Spacer:
        return Spacer(1, height)

    # Charts (reportlab.graphics). Money enters a chart only as bar lengths; every printed
    # figure is formatted from the snapshot's Decimal strings, never from these floats.

    @staticmethod
    def _length(value: dict | str) -> float:
        return float(Decimal(value["amount"] if isinstance(value, dict) else value))

    @staticmethod
    def _axis_label(value) -> str:
        if abs(value) >= 1_000_000:
            return f"{value / 1_000_000:,.1f}m"
        if abs(value) >= 1_000:
            return f"{value / 1_000:,.0f}k"
        return f"{value:,.0f}"

    def bar_chart(self, labels, series, *, names=None, horizontal=False, width=170 * mm, height=60 * mm):
        if horizontal:  # reportlab draws the first category at the bottom; readers expect it on top
            labels, series = list(reversed(labels)), [list(reversed(s)) for s in series]
        else:
            width = min(width, 40 * mm + 22 * mm * len(labels))
        drawing = Drawing(width, height)
        chart = HorizontalBarChart() if horizontal else VerticalBarChart()
        label_room = 55 * mm if horizontal else 0
        chart.x, chart.y = 12 * mm + label_room, 12 * mm
        chart.width, chart.height = width - 20 * mm - label_room, height - 20 * mm
        chart.data = [[self._length(v) for v in s] for s in series]
        chart.categoryAxis.categoryNames = [label[:38] for label in labels]
        for axis in (chart.categoryAxis, chart.valueAxis):
            axis.labels.fontName = FONT
            axis.labels.fontSize = 7
            axis.strokeColor = RULE
        chart.valueAxis.labelTextFormat = self._axis_label
        chart.valueAxis.valueMin = 0
        chart.valueAxis.visibleGrid = True
        chart.valueAxis.gridStrokeColor = BAND
        if horizontal:
            chart.categoryAxis.labels.boxAnchor = "e"
            chart.categoryAxis.labels.dx = -3
        elif len(labels) > 6:
            chart.categoryAxis.labels.angle = 30
            chart.categoryAxis.labels.boxAnchor = "ne"
        chart.barSpacing = 1
        chart.groupSpacing = 6
        for i in range(len(series)):
            chart.bars[i].fillColor = SERIES[i % len(SERIES)]
            chart.bars[i].strokeColor = None
        drawing.add(chart)
        if names:
            drawing.add(self._legend(names, width - 30 * mm, height - 2 * mm))
        return drawing

    def pie_chart(self, labels, values, *, width=170 * mm, height=58 * mm):
        drawing = Drawing(width, height)
        pie = Pie()
        pie.x, pie.y = 10 * mm, 4 * mm
        pie.width = pie.height = height - 10 * mm
        pie.data = [self._length(v) for v in values]
        pie.labels = None
        pie.slices.strokeColor = colors.white
        pie.slices.strokeWidth = 0.5
        for i in range(len(values)):
            pie.slices[i].fillColor = SERIES[i % len(SERIES)]
        drawing.add(pie)
        drawing.add(self._legend(labels, 10 * mm + height, height - 6 * mm))
        return drawing

    def _legend(self, names, x, y) -> Legend:
        legend = Legend()
        legend.x, legend.y = x, y
        legend.fontName = FONT
        legend.fontSize = 7
        legend.alignment = "right"
        legend.boxAnchor = "nw"
        legend.columnMaximum = 8
        legend.colorNamePairs = [(SERIES[i % len(SERIES)], name[:50]) for i, name in enumerate(names)]
        legend.strokeColor = None
        legend.deltay = 9
        return legend
