"""reportlab flowables the renderers build their pages from, each drawing what its reportlab
counterpart draws for the cases the renderers use, with less work: see docs/reports.md (renderer 3)."""

from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Table


class Line(Flowable):
    """A paragraph of plain text that fits on one line, drawn as one string: where and how a
    Paragraph would draw it (its first baseline is one font size below its top), without the
    markup parsing and line breaking. Text that does not fit is handed to a Paragraph."""

    def __init__(self, text: str, style: ParagraphStyle):
        super().__init__()
        self.text, self.style = " ".join(text.split()), style
        self._paragraph = None

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        s = self.style
        room = availWidth - s.leftIndent - s.rightIndent - s.firstLineIndent
        if self._paragraph is None and stringWidth(self.text, s.fontName, s.fontSize) <= room:
            self.width, self.height = availWidth, s.leading
        else:
            self._paragraph = self._paragraph or Paragraph(escape(self.text), s)
            self.width, self.height = self._paragraph.wrapOn(self.canv, availWidth, availHeight)
        return self.width, self.height

    def split(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        return self._paragraph.splitOn(self.canv, availWidth, availHeight) if self._paragraph else []

    def draw(self):
        if self._paragraph:
            self._paragraph.drawOn(self.canv, 0, 0)
            return
        s = self.style
        self.canv.setFillColor(s.textColor)
        self.canv.setFont(s.fontName, s.fontSize, s.leading)
        self.canv.drawString(s.leftIndent + s.firstLineIndent, s.leading - s.fontSize, self.text)


class RuledTable(Table):
    """A Table whose plain-string cells are written into one PDF text object per table.

    reportlab draws each string cell with its own text object (`drawString`: a new object, its
    origin, font and colour, the string, then the object closed), which made drawing the tables
    about a third of a report's render time. Here each cell only moves the text origin and writes its string;
    where and how it is drawn is what `Table._drawCell` does for a one-line string cell (top or bottom
    aligned, left or right). Paragraph cells are drawn by reportlab as before.
    """

    def _drawCell(self, cellval, cellstyle, pos, size):  # noqa: N802 (reportlab's name)
        if (
            not isinstance(cellval, str)
            or "\n" in cellval
            or cellstyle.alignment not in ("LEFT", "RIGHT")
            or cellstyle.valign not in ("TOP", "BOTTOM")
        ):
            self._text_flush()  # keeps the cells in reading order for text extraction and screen readers
            self._curcellstyle = None  # the text object may have changed the fill colour: set it again
            return super()._drawCell(cellval, cellstyle, pos, size)
        if not cellval:
            return None
        text = getattr(self, "_text", None)
        if text is None:
            text = self._text = self.canv.beginText()
            self._text_font = self._text_color = None
        font = (cellstyle.fontname, cellstyle.fontsize, cellstyle.leading)
        if font != self._text_font:
            text.setFont(*font)
            self._text_font = font
        if cellstyle.color is not self._text_color:
            text.setFillColor(cellstyle.color)
            self._text_color = cellstyle.color
        (x, y), (width, height) = pos, size
        if cellstyle.alignment == "LEFT":
            x += cellstyle.leftPadding
        else:
            x += width - cellstyle.rightPadding - stringWidth(cellval, cellstyle.fontname, cellstyle.fontsize)
        if cellstyle.valign == "TOP":
            y += height - cellstyle.topPadding - cellstyle.fontsize
        else:
            y += cellstyle.bottomPadding + cellstyle.leading - cellstyle.fontsize
        text.setTextOrigin(x, y)
        text.textLine(cellval)
        return None

    def _drawLines(self):  # noqa: N802 (reportlab's name)
        # Table.draw draws the lines after every cell, inside its own saveState: the text goes out
        # there, so the colour it sets ends with the table.
        self._text_flush()
        super()._drawLines()

    def _text_flush(self):
        if getattr(self, "_text", None) is not None:
            self.canv.drawText(self._text)
            self._text = None


class KeptTogether(Flowable):
    """Flowables drawn on one page, like reportlab's KeepTogether, but each wrapped only once.

    KeepTogether wraps its content to measure it and then hands it to the frame, which wraps every
    piece again. This wraps the content once, stacks it as the frame would (the space between two
    pieces is the larger of the one's space after and the next one's space before), and draws it
    itself. When it does not fit where it is, an empty split sends it to the next page; when it is
    taller than a page, its pieces flow on their own.
    """

    def __init__(self, flowables):
        super().__init__()
        self._content = flowables
        self._wrapped_width = None

    def getSpaceBefore(self):  # noqa: N802 (reportlab's name)
        return self._content[0].getSpaceBefore()

    def getSpaceAfter(self):  # noqa: N802 (reportlab's name)
        return self._content[-1].getSpaceAfter()

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        if self._wrapped_width != availWidth:
            self._placed, y, after = [], 0, None
            for flowable in self._content:
                w, h = flowable.wrapOn(self.canv, availWidth, 0xFFFFFFF)
                if after is not None:
                    y += max(flowable.getSpaceBefore(), after)
                y += h
                self._placed.append((flowable, w, y))
                after = flowable.getSpaceAfter()
            self.width, self.height, self._wrapped_width = availWidth, y, availWidth
        return self.width, self.height

    def split(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        frame = getattr(self, "_frame", None)
        at_top = frame is not None and frame._atTop
        return list(self._content) if at_top else []

    def draw(self):
        for flowable, w, y in self._placed:
            flowable.drawOn(self.canv, 0, self.height - y, _sW=self.width - w)
