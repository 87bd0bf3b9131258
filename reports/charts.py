"""Charts as reportlab Drawings, shared by the PDF renderers and the dashboard (which turns
them into SVG with `svg()`), so a figure looks the same on screen and on paper; and the donor
summary's result bars (`ResultBars`), a flowable drawn straight on the PDF page.

Money enters a chart only as bar lengths; every printed figure is formatted from Decimal
strings by the caller, never from these floats.
"""

import math
import xml.etree.ElementTree as ET  # noqa: N817
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _
from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable

from backoffice.formats import number_localise
from donors.models import Donor

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
RULE = colors.HexColor("#cbd2d9")
BAND = colors.HexColor("#f0f4f8")
ACCENT = colors.HexColor("#2f5d8a")
SERIES = [ACCENT, colors.HexColor("#8fb3d9"), colors.HexColor("#c97b2f"), colors.HexColor("#6b8f71"),
          colors.HexColor("#a05d8c"), colors.HexColor("#9aa5b1"), colors.HexColor("#d4b35f")]  # fmt: skip
OTHER_COLOUR = colors.HexColor("#cbd2d9")  # a pie's "Other" slice: no category's colour


def fonts_register() -> None:
    """Embed DejaVu Sans (Latin Extended, Cyrillic, Greek), shipped in reports/fonts/."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


ELLIPSIS = "\u2026"


def label_shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: cut at the last word boundary that fits, with an
    ellipsis, so no word is cut in two (a first word longer than the limit is, as nothing else fits)."""
    if len(text) <= limit:
        return text
    kept = text[: limit - 1]
    if not text[limit - 1].isspace():
        kept = kept.rpartition(" ")[0] or kept
    return kept.rstrip(" ,;:.-\u2013\u2014") + ELLIPSIS


def palette_colour(key: str, keys: list[str]):
    """A category's colour from its place among every category there can be, not among those a
    view shows, so it keeps its colour in every view; a key outside `keys` takes the last colour."""
    return SERIES[keys.index(key) % len(SERIES)] if key in keys else SERIES[-1]


def donor_kind_colours(labels: list[str]) -> list:
    """Each donor kind's colour (by its label), the same on the dashboard and in every report."""
    kinds = [label for _, label in Donor.Kind.choices]
    return [palette_colour(label, kinds) for label in labels]


def _length(value: dict | str) -> float:
    return float(Decimal(value["amount"] if isinstance(value, dict) else value))


def axis_label(value) -> str:
    """A value axis's label in the active language: '1.2m', '400k'; in French '1,2 M', '400 k'."""
    if abs(value) >= 1_000_000:
        return _("%(number)sm") % {"number": number_localise(f"{value / 1_000_000:,.1f}")}
    if abs(value) >= 1_000:
        return _("%(number)sk") % {"number": number_localise(f"{value / 1_000:,.0f}")}
    return number_localise(f"{value:,.0f}")


def value_step(top: float, steps: int) -> float:
    """The smallest round step (1, 2, 2.5 or 5 times a power of ten) that reaches `top` in at
    most `steps` steps, so the value axis has at most `steps` + 1 labels."""
    power = 10 ** math.floor(math.log10(top / steps))
    for factor in (1, 2, 2.5, 5, 10):
        if top / (factor * power) <= steps:
            return factor * power
    return 10 * power


def _drawing(width, height) -> Drawing:
    """An empty drawing whose text starts in the embedded font: reportlab's default font would be
    referenced by the PDF without being embedded."""
    fonts_register()
    return Drawing(width, height, initialFontName=FONT)


def bar_chart(
    labels,
    series,
    *,
    names=None,
    horizontal=False,
    width=170 * mm,
    height=60 * mm,
    font_size=7,
    label_limit=38,
    labels_above=False,
) -> Drawing:
    """Bars per label, one colour per series; `series` holds money dicts or Decimal strings.

    Margins grow with `font_size` (7 on paper); the legend of `names` has its own room above the
    bars. Labels longer than `label_limit` are shortened at a word boundary. `labels_above`
    (horizontal only, for narrow screens) writes each label above its bars, across the chart's
    width, instead of in a column on their left; the height is then what the bars need.
    """
    scale = font_size / 7
    line = font_size * 9 / 7  # a legend row
    bottom = 12 * mm * scale
    label_bar = font_size * 1.5 if labels_above and horizontal else 0
    top = 2 * mm * scale + len(names) * line + font_size / 2 if names else (font_size if label_bar else 8 * mm * scale)
    if label_bar:  # each category: its bars at full scale, its label above them
        group = 6 + 10 * len(series) + (len(series) - 1)  # groupSpacing + bars + barSpacing, as set below
        height = bottom + top + len(labels) * (label_bar + group)
    if horizontal:  # reportlab draws the first category at the bottom; readers expect it on top
        labels, series = list(reversed(labels)), [list(reversed(s)) for s in series]
    else:
        width = min(width, 40 * mm * scale + 22 * mm * scale * len(labels))
        height = min(height, (30 * mm + 10 * mm * len(labels)) * scale)  # a bar or two need no half page
    drawing = _drawing(width, height)
    chart = HorizontalBarChart() if horizontal else VerticalBarChart()
    label_room = 0
    if horizontal and not label_bar:  # the longest label's width, up to 55 mm
        shortened = [label_shorten(label, label_limit) for label in labels]
        label_room = min(55 * mm, max(pdfmetrics.stringWidth(t, FONT, font_size) for t in shortened) + 4 * mm)
    left = 4 * mm if label_bar else 12 * mm * scale
    chart.x, chart.y = left + label_room, bottom
    chart.width, chart.height = width - left - 8 * mm * scale - label_room, height - bottom - top
    chart.data = [[_length(v) for v in s] for s in series]
    chart.categoryAxis.categoryNames = [label_shorten(label, label_limit) for label in labels]
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName = FONT
        axis.labels.fontSize = font_size
        axis.strokeColor = RULE
    chart.valueAxis.labelTextFormat = axis_label
    # Value labels ("400k", "1.2m") need about five characters' room each: fewer ticks on a short axis.
    value_length = chart.width if horizontal else chart.height
    top_value = max((v for s in chart.data for v in s), default=0)
    if top_value > 0:
        step = value_step(top_value, max(2, min(6, int(value_length // (font_size * 5)))))
        chart.valueAxis.valueStep = step
        chart.valueAxis.valueMax = math.ceil(top_value / step) * step
    chart.valueAxis.valueMin = 0
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = BAND
    if label_bar:
        chart.categoryLabelBarSize = label_bar
        chart.categoryLabelBarOrder = "last"
        chart.categoryAxis.labels.boxAnchor = "sw"
        chart.categoryAxis.labels.dx = 2
    elif horizontal:
        chart.categoryAxis.labels.boxAnchor = "e"
        chart.categoryAxis.labels.dx = -3
    elif len(labels) > 6:
        chart.categoryAxis.labels.angle = 30
        chart.categoryAxis.labels.boxAnchor = "ne"
    chart.barWidth = 10
    chart.barSpacing = 1
    chart.groupSpacing = 6
    for i in range(len(series)):
        chart.bars[i].fillColor = SERIES[i % len(SERIES)]
        chart.bars[i].strokeColor = None
    drawing.add(chart)
    if names:
        drawing.add(legend(names, width - 30 * mm * scale, height - 2 * mm * scale, font_size=font_size))
    return drawing


# A pie slice below this share of the whole is too thin to see: two or more such slices are drawn
# as one "Other" slice; a single one is drawn pulled out of the pie, its share in its legend entry.
SLICE_MIN_SHARE = Decimal("0.03")
OTHER = "Other"


def pie_slices(labels, values, colours) -> tuple[list[str], list[Decimal], list]:
    """The slices a pie draws, as (legend labels, amounts, colours): two or more small slices are
    grouped into "Other (n)"; a single small one keeps its place and says its share."""
    amounts = [Decimal(v["amount"] if isinstance(v, dict) else v) for v in values]
    whole = sum(amounts, start=Decimal(0)) or Decimal(1)
    small = [i for i, a in enumerate(amounts) if a / whole < SLICE_MIN_SHARE]
    kept = [i for i in range(len(amounts)) if i not in small or len(small) < 2]
    slices = [(labels[i], amounts[i], colours[i]) for i in kept]
    if len(small) >= 2:
        slices.append((f"{OTHER} ({len(small)})", sum((amounts[i] for i in small), start=Decimal(0)), OTHER_COLOUR))
    return (
        [
            f"{label} ({a / whole * 100:.1f}%)" if len(small) == 1 and a / whole < SLICE_MIN_SHARE else label
            for label, a, _ in slices
        ],  # fmt: skip
        [a for _, a, _ in slices],
        [c for _, _, c in slices],
    )


def pie_chart(labels, values, *, width=170 * mm, height=58 * mm, font_size=7, colours=None, label_limit=50) -> Drawing:
    """A pie with its legend on the right; `colours` (one
    per label, see `palette_colour`) keep each category's colour whichever categories are shown,
    else colours follow the order. Slices too thin to see are grouped or pulled out (`pie_slices`)."""
    colours = colours or [SERIES[i % len(SERIES)] for i in range(len(values))]
    labels, values, colours = pie_slices(labels, values, colours)
    drawing = _drawing(width, height)
    pie = Pie()
    pie.x, pie.y = 10 * mm, 4 * mm
    pie.width = pie.height = height - 10 * mm
    pie.data = [_length(v) for v in values]
    pie.labels = None
    pie.slices.strokeColor = colors.white
    pie.slices.strokeWidth = 0.5
    whole = sum(values, start=Decimal(0)) or Decimal(1)
    for i, colour in enumerate(colours):
        pie.slices[i].fillColor = colour
        if values[i] / whole < SLICE_MIN_SHARE:
            pie.slices[i].popout = 4
    drawing.add(pie)
    drawing.add(
        legend(labels, 10 * mm + height, height - 6 * mm, font_size=font_size, colours=colours, label_limit=label_limit)
    )
    return drawing


def legend(names, x, y, *, font_size=7, colours=None, label_limit=50) -> Legend:
    colours = colours or [SERIES[i % len(SERIES)] for i in range(len(names))]
    box = Legend()
    box.x, box.y = x, y
    box.fontName = FONT
    box.fontSize = font_size
    box.alignment = "right"
    box.boxAnchor = "nw"
    box.columnMaximum = 8
    box.colorNamePairs = [
        (colour, label_shorten(name, label_limit)) for colour, name in zip(colours, names, strict=True)
    ]
    box.strokeColor = None
    box.deltay = font_size * 9 / 7
    box.dx = box.dy = 10 * font_size / 7
    return box


SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
SCREEN_FONTS = f"{FONT}, 'DejaVu Sans', 'Segoe UI', Roboto, Arial, sans-serif"
# Where HTML's SVG takes font attributes: reportlab also gives them to a pie's wedges (paths),
# which the HTML checker refuses and which draw no text.
FONT_HOLDERS = {"svg", "g", "text", "tspan"}


def svg(drawing: Drawing, *, key: str, title: str, full_names: dict[str, str] | None = None) -> str:
    """The drawing as an inline <svg> element for an HTML page served under a strict CSP.

    reportlab writes `style="…"` attributes, which `style-src 'self'` blocks; each declaration
    becomes the SVG presentation attribute of the same name. Ids are prefixed with `key` so
    several charts on one page do not share a clip path. The width stays (CSS pixels) and the
    height goes: the page's CSS shrinks a chart into a narrower box, its height following the
    viewBox. The title names the chart for screen readers. A label shortened for the chart (a
    key of `full_names`) gets its full name as a <title>, shown on hover.
    """
    full_names = full_names or {}
    root = ET.fromstring(renderSVG.drawToString(drawing))  # noqa: S314 (our own drawing, not user XML)
    for element in root.iter():
        style = element.attrib.pop("style", None)
        for declaration in (style or "").split(";"):
            name, _, value = declaration.partition(":")
            if name.strip() and value.strip():
                element.set(name.strip(), value.strip())
        if element.tag.removeprefix(f"{{{SVG_NS}}}") not in FONT_HOLDERS:
            for name in [name for name in element.attrib if name.startswith("font-")]:
                del element.attrib[name]
        elif element.get("font-family"):
            element.set("font-family", SCREEN_FONTS)
        if element.get("id"):
            element.set("id", f"{key}-{element.get('id')}")
        if element.tag == f"{{{SVG_NS}}}text" and full_names.get(element.text or "", element.text) != element.text:
            hover = ET.Element(f"{{{SVG_NS}}}title")
            hover.text, hover.tail, element.text = full_names[element.text], element.text, None
            element.insert(0, hover)
        for attribute in ("clip-path",):
            if element.get(attribute, "").startswith("url(#"):
                element.set(attribute, element.get(attribute).replace("url(#", f"url(#{key}-"))
    root.attrib.pop("height", None)
    root.set("role", "img")
    root.set("aria-labelledby", f"{key}-title")
    root.set("class", "chart")
    for child in list(root):
        if child.tag in (f"{{{SVG_NS}}}title", f"{{{SVG_NS}}}desc"):
            root.remove(child)
    heading = ET.Element(f"{{{SVG_NS}}}title", id=f"{key}-title")
    heading.text = title
    root.insert(0, heading)
    return ET.tostring(root, encoding="unicode")


RESULT_TEXT_AT = 20 * mm  # where a result's text starts, right of its bar


class ResultBars(Flowable):
    """Results as bars, one row each: `rows` of (text, done) where done is actual / target (a
    Decimal, drawn up to a full track) or None for an indicator not yet measured; the text
    (formatted by the caller) stands beside the track. Drawn straight on the canvas: two
    rectangles and a line of text a row, which as a Drawing of shapes cost several times as much."""

    def __init__(self, rows, *, width=70 * mm, font_size=6.5):
        super().__init__()
        self.rows, self.font_size = rows, font_size
        self.row_height = font_size * 1.4
        self.width, self.height = width, max(1, len(rows)) * self.row_height

    def draw(self):
        canvas, height = self.canv, self.row_height
        track = RESULT_TEXT_AT - 2 * mm
        canvas.saveState()
        canvas.setLineWidth(0.3)
        canvas.setStrokeColor(RULE)
        canvas.setFont(FONT, self.font_size)
        for n, (text, done) in enumerate(self.rows):
            y = self.height - (n + 1) * height + height * 0.2
            canvas.setFillColor(BAND)
            canvas.rect(0, y, track, height * 0.6, stroke=1, fill=1)
            if done:
                canvas.setFillColor(ACCENT)
                canvas.rect(0, y, float(min(done, Decimal(1))) * track, height * 0.6, stroke=0, fill=1)
            canvas.setFillColor(INK)
            canvas.drawString(RESULT_TEXT_AT, y + 0.6, text)
        canvas.restoreState()
