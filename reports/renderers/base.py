"""The base renderer: page templates, fonts, styles, header and footer; charts come from reports.charts.

A subclass only builds its story from a snapshot. Nothing here reads the database or the
clock: the same snapshot gives the same bytes. The creation and modification dates are the
snapshot's as-of date (reportlab's date formatter); reportlab's invariant mode fixes the time stamp
it derives the document ID from, with the document information (whose subject carries the
snapshot's SHA-256).

What a reader and a screen reader need from the file: the language in the catalog (`/Lang`), a
bookmark per section shown on open, and the title displayed instead of the file name. reportlab
cannot tag a PDF's structure (no tagged PDF): docs/reports.md says so.
"""

import datetime as dt
import io
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfdoc import PDFDictionary
from reportlab.pdfbase.pdfmetrics import stringWidth
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
from reportlab.platypus.flowables import _listWrapOn

from backoffice.formats import format_day, format_percent, number_localise
from backoffice.money import format_money, format_rate

from .. import charts
from ..charts import ACCENT, BAND, FONT, FONT_BOLD, INK, MUTED, RULE, fonts_register
from ..snapshot import snapshot_sha256
from .frame import page_frame_draw

# Bump whenever a change to any renderer changes the bytes of a PDF: each run records the version
# that drew it, and verify_report re-renders only runs of the current version (older runs verify
# by the SHA-256 of the PDF stored with them).
RENDERER_VERSION = 8
# The reportlab release that version draws with. Another release may draw other bytes, and
# genuine PDFs of the current version would then fail verify_report's re-render: a test pins
# this, so that upgrading reportlab (requirements.txt) goes with a RENDERER_VERSION bump.
RENDERED_WITH_REPORTLAB = "5.1.0"

# Formatting: the one place that turns snapshot strings into printed text, in the active language
# (backoffice.formats: English '6 Dec 2026', 'GBP 1,234.56'; French '6 décembre 2026', 'GBP 1 234,56').


def fmt_money(value: dict) -> str:
    return format_money(Decimal(value["amount"]), value["currency"])


def fmt_date(value: str | None) -> str:
    if not value:
        return "—"
    return format_day(dt.date.fromisoformat(value))


def fmt_rates(rates: list[dict]) -> str:
    """The closing rates a snapshot used, each with its date: "1 USD = 0.75 GBP (1 Dec 2025)"."""
    # "1 USD = 0,75 GBP (1er décembre 2025)" in French: no words to translate.
    return "; ".join(
        f"1 {r['currency']} = {format_rate(r['rate'])} {r['base_currency']} ({fmt_date(r['date'])})" for r in rates
    )


def fmt_period(period: dict) -> str:
    return f"{fmt_date(period['start'])} – {fmt_date(period['end'])}"


def fmt_share(value: str) -> str:
    return format_percent(f"{Decimal(value) * 100:.1f}")


def fmt_number(value: str | None) -> str:
    if value is None:
        return "—"
    d = Decimal(value)
    return number_localise(f"{d:,.0f}" if d == d.to_integral_value() else f"{d:,.2f}")


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
        "key": ParagraphStyle("key", parent=body, fontName=FONT_BOLD, fontSize=10.5, leading=13, spaceAfter=0),
        "cell": ParagraphStyle("cell", parent=body, fontSize=CELL_SIZE, leading=CELL_LEADING, spaceAfter=0),
    }  # fmt: skip


# Shared by every render: a ParagraphStyle is only read while rendering, never changed.
CELL_SIZE, CELL_LEADING, CELL_PADDING = 8, 10, 6  # CELL_PADDING: reportlab's default left and right padding
CELL_PADDING_Y = 2.5  # above and below a cell's text
STYLES = _styles()


class Text(str):
    """User text for a table cell. `table()` prints it as a plain string when it fits on one line
    (as a Paragraph would, with runs of whitespace collapsed), and as an escaped Paragraph that
    wraps when it does not: a Paragraph costs far more to parse, wrap and draw than a string."""


class NumberedCanvas(Canvas):
    """A canvas that can say "Page x of y" on every page. A page shows a form (a PDF XObject) by
    name, and the forms are drawn when the file is saved and the number of pages is known:
    reportlab lets a page use a form that is defined later. It also lists its named destinations
    (`ReportRenderer.chart_with_table`) in the catalog's `/Dests`, where a PDF reader finds them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._page_counts = []  # (form name, right end of the text, baseline) of each numbered page
        self.named_destinations = []  # bookmarked pages listed by name in the catalog's /Dests

    def draw_page_count(self, x: float, y: float) -> None:
        """Draw "Page x of y" in the footer's font, right-aligned to end at (x, y)."""
        name = f"page-count-{self.getPageNumber()}"
        self._page_counts.append((name, x, y))
        self.doForm(name)

    def save(self):
        total = len(self._page_counts)
        for number, (name, x, y) in enumerate(self._page_counts, start=1):
            self.beginForm(name)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(x, y, _("Page %(number)s of %(total)s") % {"number": number, "total": total})
            self.endForm()
        if self.named_destinations:
            destinations = {key: self._bookmarkReference(key) for key in self.named_destinations}
            self._doc.Catalog.Dests = PDFDictionary(destinations)
        super().save()


# The language of a report whose snapshot names none: every report made before Donor.language.
DEFAULT_LANGUAGE = "en-GB"
# A snapshot's language (a code of settings.LANGUAGES) as a BCP 47 tag, for the PDF's /Lang and the
# HTML version's lang attribute.
LANGUAGE_TAGS = {"en-gb": "en-GB", "fr": "fr"}


def snapshot_language(snapshot: dict) -> str:
    """The language a snapshot is read in, as a BCP 47 tag: English for a snapshot that names none."""
    language = snapshot.get("language")
    return LANGUAGE_TAGS.get(language, language) if language else DEFAULT_LANGUAGE


def as_of(snapshot: dict) -> dt.date:
    """The date the snapshot's figures stand at: an output statement's as-of date, else the period end."""
    return dt.date.fromisoformat(snapshot.get("as_of") or snapshot["period"]["end"])


def pdf_date(day: dt.date) -> str:
    """A day in PDF date format (ISO 32000-1, 7.9.4). A snapshot records a date, not a time, so the
    time is left out, and with it the time zone: every reader shows that day, wherever it is."""
    return f"D:{day:%Y%m%d}"


class ReportDocTemplate(BaseDocTemplate):
    """A document that shows its outline on open, dated `created` (a PDF date), and that adds
    one outline entry for each section heading (`ReportRenderer.heading`) as it is drawn."""

    def __init__(self, filename, *, created: str, anchors: dict[int, list[str]], **kwargs):
        self.created = created
        self.anchors = anchors  # id(flowable) -> names of destinations at the page it is drawn on
        super().__init__(filename, **kwargs)

    def beforeDocument(self):
        self.canv.showOutline()
        self.canv.setDateFormatter(lambda *_: self.created)

    def afterFlowable(self, flowable):
        key = getattr(flowable, "outline_key", None)
        if key:
            self.canv.addOutlineEntry(flowable.outline_title, key, level=0)
        for anchor in self.anchors.get(id(flowable), ()):
            self.canv.bookmarkPage(anchor)
            self.canv.named_destinations.append(anchor)


class ChartTable(KeepTogether):
    """A chart (after its `lead`, a heading) and its table, on one page: all of it where it fits;
    else, with the table's first MIN_ROWS rows or more beside the chart and the rest on the next
    pages, so a long table leaves no page half blank; else all of it from the next page. The table's
    first part takes over the table's destination names (`anchors`)."""

    # Two, not four: a tall chart with tall rows (the portfolio's "Funding against budget") and four
    # rows did not fit below the sections before it and left that page mostly blank.
    MIN_ROWS = 2

    def __init__(self, lead, chart, table, *, anchors: dict[int, list[str]], alive: list | None = None):
        super().__init__([*lead, chart, table])
        self.lead, self.chart, self.table, self.anchors = lead, chart, table, anchors
        # Every flowable named in `anchors` stays alive while the document is built: `anchors` is keyed
        # by id(), and a freed flowable's id given to a later one would move its destination.
        self.alive = [] if alive is None else alive
        self.alive += [chart, table]

    def split(self, aW, aH):
        if getattr(self, "_wrapInfo", None) != (aW, aH):
            self.wrap(aW, aH)
        if aH >= self._H:
            return self._content[:]
        frame = getattr(self, "_frame", None)
        at_top = bool(frame and getattr(frame, "_atTop", False))
        above = _listWrapOn([*self.lead, self.chart], aW, self.canv)[1]
        parts = self.table.splitOn(self.canv, aW, aH - above) if above < aH else []
        if len(parts) == 2 and (at_top or len(parts[0]._cellvalues) - self.table.repeatRows >= self.MIN_ROWS):
            self.anchors[id(parts[0])] = self.anchors.pop(id(self.table), [])
            self.alive.append(parts[0])
            return [*self.lead, self.chart, *parts]
        if at_top:  # nothing better can be done on a fresh page
            return self._content[:]
        return [
            self.FrameBreak(),
            ChartTable(self.lead, self.chart, self.table, anchors=self.anchors, alive=self.alive),
        ]


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
        """The PDF, in the snapshot's language (English when it names none)."""
        with translation.override(snapshot_language(snapshot)):
            return self._render(snapshot)

    def _render(self, snapshot: dict) -> bytes:
        self.s = snapshot
        self.sha = snapshot_sha256(snapshot)
        self.fingerprint = self.sha[:12]
        self.sections = 0
        self.anchors: dict[int, list[str]] = {}
        self.anchored: list = []  # the flowables `anchors` names, alive until the PDF is built (ids are reused)
        buffer = io.BytesIO()
        width, height = self.pagesize
        frame_first = Frame(self.margin, 16 * mm, width - 2 * self.margin, height - 16 * mm - 22 * mm, id="first")
        frame_later = Frame(self.margin, 16 * mm, width - 2 * self.margin, height - 16 * mm - 22 * mm, id="later")
        doc = ReportDocTemplate(
            buffer,
            created=pdf_date(as_of(snapshot)),
            anchors=self.anchors,
            pagesize=self.pagesize,
            invariant=1,
            initialFontName=FONT,
            lang=snapshot_language(snapshot),
            displayDocTitle=1,
            title=f"{snapshot['title']}: {self.subject()}",
            author=snapshot["organisation"]["name"],
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
        page_frame_draw(
            canvas, snapshot=self.s, subject=self.subject(), fingerprint=self.fingerprint,
            pagesize=self.pagesize, margin=self.margin,
        )  # fmt: skip

    # Styles and building blocks -----------------------------------------------------------------

    def para(self, text: str, style: str = "body") -> Paragraph:
        """A paragraph of plain text: whatever a user typed prints as typed."""
        return Paragraph(escape(text or ""), self.styles[style])

    def markup(self, markup: str, style: str = "body") -> Paragraph:
        """A paragraph of our own markup; every user value in it must already be escaped."""
        return Paragraph(markup, self.styles[style])

    def heading(self, text: str) -> Paragraph:
        """A section heading: an anchor where it is drawn, and the document's outline entry for it."""
        self.sections += 1
        key = f"section-{self.sections}"
        heading = Paragraph(f'<a name="{key}"/>{escape(text)}', self.styles["h2"])
        heading.outline_key, heading.outline_title = key, text
        return heading

    def cell(self, text: str) -> Text:
        """User text for a table cell; it wraps when it is too long for its column."""
        return Text(text or "")

    def table(self, header, rows, widths, *, numeric=(), total=None) -> Table:
        """A ruled table whose header repeats on every page; `numeric` columns align right."""
        data = [self._cells(header, widths, FONT_BOLD), *(self._cells(row, widths, FONT) for row in rows)]
        if total:
            data.append(self._cells(total, widths, FONT_BOLD))
        style = [
            ("FONT", (0, 0), (-1, -1), FONT, CELL_SIZE, CELL_LEADING),
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, CELL_SIZE, CELL_LEADING),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), CELL_PADDING_Y),
            ("BOTTOMPADDING", (0, 0), (-1, -1), CELL_PADDING_Y),
            ("BACKGROUND", (0, 0), (-1, 0), BAND),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, ACCENT),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ]
        style += [("ALIGN", (column, 0), (column, -1), "RIGHT") for column in numeric]
        if total:
            style += [("FONT", (0, -1), (-1, -1), FONT_BOLD, CELL_SIZE, CELL_LEADING),
                      ("LINEABOVE", (0, -1), (-1, -1), 0.6, INK)]  # fmt: skip
        return Table(data, colWidths=widths, repeatRows=1, splitByRow=1, hAlign="LEFT", style=TableStyle(style))

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
        equivalent = _("%(currency)s equivalent") % {"currency": self.s["base_currency"]}
        header = ["", _("Amount"), equivalent] if base_column else ["", _("Amount")]
        widths = [80 * mm, 45 * mm, 45 * mm] if base_column else [110 * mm, 50 * mm]
        return self.table(header, rows, widths, numeric=range(1, len(header)))

    def tiles(self, cells) -> Table:
        """Key figures side by side, each on its own tinted tile, across the frame."""
        width = (self.pagesize[0] - 2 * self.margin) / len(cells)
        style = [
            ("FONT", (0, 0), (-1, -1), FONT),  # not reportlab's default font, which the PDF would not embed
            ("BACKGROUND", (0, 0), (-1, -1), BAND),
            ("LINEAFTER", (0, 0), (-2, -1), 3, colors.white),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ]
        return Table([cells], colWidths=[width] * len(cells), hAlign="LEFT", style=TableStyle(style))

    # A pledge account that adds up: pledged − received − written off + overpaid + exchange
    # difference = outstanding, in each column (reports.figures.pledge_reconciliation).
    RECONCILIATION_LINES = (
        ("pledged", gettext_lazy("Pledged")),
        ("received", gettext_lazy("less received on pledges")),
        ("written_off", gettext_lazy("less written off")),
        ("overpaid", gettext_lazy("plus overpaid (received beyond a pledge)")),
        ("exchange_difference", gettext_lazy("plus exchange difference")),
    )
    RECONCILIATION_COLUMNS = 3  # columns beside the labels per table, so that every amount fits

    def reconciliation(self, rows: list[dict]) -> list:
        """The reconciliation as tables of at most three columns: one line per figure, one column per row."""
        if not rows:
            return []
        converted = any(r["basis"] != "pledge" for r in rows)
        lines = [
            (key, label)
            for key, label in self.RECONCILIATION_LINES
            if (key != "overpaid" or any(Decimal(r["overpaid"]["amount"]) for r in rows))
            and (key != "exchange_difference" or converted)
        ]
        story = []
        step = self.RECONCILIATION_COLUMNS
        for i in range(0, len(rows), step):
            chunk = rows[i : i + step]
            width = (self.pagesize[0] - 2 * self.margin - 58 * mm) / step
            body = [
                [self.cell(str(label)), *("—" if key == "exchange_difference" and r["basis"] == "pledge"
                                     else fmt_money(r[key]) for r in chunk)]
                for key, label in lines
            ]  # fmt: skip
            story += [
                self.spacer(2 * mm) if i else self.spacer(0),
                self.table(
                    ["", *(r["label"] for r in chunk)],
                    body,
                    [58 * mm, *([width] * len(chunk))],
                    numeric=range(1, len(chunk) + 1),
                    total=[_("Outstanding"), *(fmt_money(r["outstanding"]) for r in chunk)],
                ),
            ]
        return story

    def reconciliation_note(self, rows: list[dict]) -> list:
        """How the columns are made, with every rate and its date."""
        s = self.s
        base = s["base_currency"]
        text = [
            _(
                "Each column adds up: pledged, less received and written off, plus any overpayment and exchange "
                "difference, is what is outstanding. Pledge-currency columns are exact."
            )
        ]
        if any(r["basis"] == "base" for r in rows):
            rates = fmt_rates(s["rates"])
            closing = fmt_date(s["period"]["end"])
            text.append(
                _(
                    "In %(base)s, received is the sum of the %(base)s amounts posted on the days the money arrived; "
                    "pledged, written off, overpaid and outstanding are at the closing rate on %(closing)s "
                    "(%(rates)s). The exchange difference is the gap between the two."
                )
                % {"base": base, "closing": closing, "rates": rates}
            )
        for r in rows:
            if r["basis"] == "converted":
                text.append(
                    _(
                        "In %(currency)s, each pledge currency is converted at the closing rate "
                        "(%(conversions)s); its exchange difference is rounding."
                    )
                    % {"currency": r["currency"], "conversions": self.conversions_text(r["currency"])}
                )
        return [self.spacer(2 * mm), self.para(" ".join(text), "small")]

    def conversions_text(self, target: str) -> str:
        return "; ".join(
            _("1 %(from)s = %(rate)s %(to)s, from the rates of %(dates)s")
            % {
                "from": c["from"],
                "rate": format_rate(c["rate"]),
                "to": c["to"],
                "dates": get_text_list([fmt_date(d) for d in c["rate_dates"]], _("and")),
            }
            for c in self.s.get("conversions", [])
            if c["to"] == target
        )

    def empty(self, text: str) -> Paragraph:
        return self.para(text, "small")

    def keep(self, *flowables) -> KeepTogether:
        return KeepTogether(list(flowables))

    def spacer(self, height=4 * mm) -> Spacer:
        return Spacer(1, height)

    def chart_with_table(self, *flowables) -> KeepTogether:
        """A chart (with what leads into it) and then its table, kept on one page. The chart and the
        table's start are named destinations, `chart-n` and `chart-n-table`, at the pages they are
        drawn on, so a test can tell they share one (tests/reports/test_page_images.py)."""
        *lead, chart, table = flowables
        key = self.chart_key()
        self.anchors[id(chart)], self.anchors[id(table)] = [key], [f"{key}-table"]
        return ChartTable(lead, chart, table, anchors=self.anchors, alive=self.anchored)

    def chart_beside_table(self, chart, table, widths) -> Table:
        """A chart with its table on its right: one row, so on one page by construction (both
        destinations, as `chart_with_table` sets them, point at it)."""
        style = TableStyle([("FONT", (0, 0), (-1, -1), FONT), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("LEFTPADDING", (0, 0), (-1, -1), 0)])  # fmt: skip
        row = Table([[chart, table]], colWidths=widths, hAlign="LEFT", style=style)
        key = self.chart_key()
        self.anchors[id(row)] = [key, f"{key}-table"]
        self.anchored.append(row)
        return row

    def chart_key(self) -> str:
        return f"chart-{sum(len(keys) for keys in self.anchors.values()) // 2 + 1}"

    # Charts: the shared drawings (reports.charts), so the dashboard shows the same charts.

    def bar_chart(self, labels, series, **kwargs):
        return charts.bar_chart(labels, series, **kwargs)

    def pie_chart(self, labels, values, **kwargs):
        return charts.pie_chart(labels, values, **kwargs)
