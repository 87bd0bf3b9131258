"""The base renderer: page templates, fonts, styles, header and footer; charts come from reports.charts.

A subclass only builds its story from a snapshot. Nothing here reads the database or the
clock: the same snapshot gives the same bytes (reportlab's invariant mode fixes the creation
date; the PDF's document ID is taken from the snapshot's SHA-256).
"""

import datetime as dt
import io
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tables import CellStyle

from backoffice.money import format_money

from .. import charts
from ..charts import ACCENT, BAND, FONT, FONT_BOLD, INK, MUTED, RULE, fonts_register
from ..snapshot import snapshot_sha256
from .flowables import KeptTogether, Line, RuledTable

# Bump whenever a change to any renderer changes the bytes of a PDF: each run records the version
# that drew it, and verify_report re-renders only runs of the current version (older runs verify
# by the SHA-256 of the PDF stored with them).
RENDERER_VERSION = 3
# The reportlab release that version draws with. Another release may draw other bytes, and
# genuine PDFs of the current version would then fail verify_report's re-render: a test pins
# this, so that upgrading reportlab (requirements.txt) goes with a RENDERER_VERSION bump.
RENDERED_WITH_REPORTLAB = "4.4.10"

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


def _styles() -> dict:
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
        "cell": ParagraphStyle("cell", parent=body, fontSize=CELL_SIZE, leading=CELL_LEADING, spaceAfter=0),
    }  # fmt: skip


# Shared by every render: a ParagraphStyle is only read while rendering, never changed.
CELL_SIZE, CELL_LEADING, CELL_PADDING = 8, 10, 6  # CELL_PADDING: reportlab's default left and right padding
CELL_PADDING_Y = 2.5  # above and below a cell's text
CELL_ROW_HEIGHT = CELL_PADDING_Y + CELL_LEADING + CELL_PADDING_Y  # a row of one-line cells
STYLES = _styles()


def _cell_style(font: str, alignment: str) -> CellStyle:
    style = CellStyle(f"{font} {alignment}")
    style.fontname, style.fontsize, style.leading, style.color = font, CELL_SIZE, CELL_LEADING, INK
    style.alignment, style.valign, style.topPadding = alignment, "TOP", CELL_PADDING_Y
    style.bottomPadding = CELL_PADDING_Y
    return style


# A table's cells share these styles instead of each cell getting its own CellStyle that every style
# command then visits (reportlab's default): the same look, built in a fraction of the time. Only
# read while rendering; `table()` gives reportlab no cell-level style commands that would change them.
CELL_STYLES = {(font, alignment): _cell_style(font, alignment) for font in (FONT, FONT_BOLD)
               for alignment in ("LEFT", "RIGHT")}  # fmt: skip


class Text(str):
    """User text for a table cell. `table()` prints it as a plain string when it fits on one line
    (as a Paragraph would, with runs of whitespace collapsed), and as an escaped Paragraph that
    wraps when it does not: a Paragraph costs far more to parse, wrap and draw than a string."""


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

    styles = STYLES

    def __init__(self):
        fonts_register()

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
            keywords=f"fundtrace, {snapshot['kind']}, renderer {RENDERER_VERSION}, sha256:{self.sha}",
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

    def para(self, text: str, style: str = "body") -> Flowable:
        """A paragraph of plain text: whatever a user typed prints as typed."""
        if not (text or "").strip() or self.styles[style].alignment != TA_LEFT:
            return Paragraph(escape(text or ""), self.styles[style])
        return Line(text, self.styles[style])

    def markup(self, markup: str, style: str = "body") -> Paragraph:
        """A paragraph of our own markup; every user value in it must already be escaped."""
        return Paragraph(markup, self.styles[style])

    def heading(self, text: str) -> Flowable:
        return self.para(text, "h2")

    def cell(self, text: str) -> Text:
        """User text for a table cell; it wraps when it is too long for its column."""
        return Text(text or "")

    def table(self, header, rows, widths, *, numeric=(), total=None) -> Table:
        """A ruled table whose header repeats on every page; `numeric` columns align right."""
        data = [self._cells(header, widths, FONT_BOLD), *(self._cells(row, widths, FONT) for row in rows)]
        if total:
            data.append(self._cells(total, widths, FONT_BOLD))
        bold = [CELL_STYLES[FONT_BOLD, "RIGHT" if i in numeric else "LEFT"] for i in range(len(widths))]
        plain = [CELL_STYLES[FONT, "RIGHT" if i in numeric else "LEFT"] for i in range(len(widths))]
        cell_styles = [bold, *(plain for _ in rows), *([bold] if total else [])]
        # A row of strings is one line high; reportlab measures only the rows that hold a Paragraph.
        heights = [None if any(isinstance(c, Paragraph) for c in row) else CELL_ROW_HEIGHT for row in data]
        table = RuledTable(
            data, colWidths=widths, rowHeights=heights, repeatRows=1, splitByRow=1, hAlign="LEFT",
            cellStyles=cell_styles, normalizedData=1,
        )  # fmt: skip
        style = [
            ("BACKGROUND", (0, 0), (-1, 0), BAND),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, ACCENT),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ]
        if total:
            style.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, INK))
        table.setStyle(TableStyle(style))
        return table

    def _cells(self, row, widths, font) -> list:
        cells = ["" if value is None else value for value in row]
        for i, value in enumerate(cells):
            if isinstance(value, Text):
                words = " ".join(value.split())
                if stringWidth(words, font, CELL_SIZE) <= widths[i] - 2 * CELL_PADDING:
                    cells[i] = words
                else:
                    cells[i] = Paragraph(escape(words), self.styles["cell"])
        return cells

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

    def empty(self, text: str) -> Flowable:
        return self.para(text, "small")

    def keep(self, *flowables) -> KeptTogether:
        return KeptTogether(list(flowables))

    def spacer(self, height=4 * mm) -> Spacer:
        return Spacer(1, height)

    # Charts: the shared drawings (reports.charts), so the dashboard shows the same charts.

    def bar_chart(self, labels, series, **kwargs):
        return charts.bar_chart(labels, series, **kwargs)

    def pie_chart(self, labels, values, **kwargs):
        return charts.pie_chart(labels, values, **kwargs)
