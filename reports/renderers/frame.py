"""The frame of every page: the organisation's logo and name at the top; its name, address,
registration, contacts and the way to verify the report at the bottom; and "Internal — not for
donors" on every page of a report that is not for donors.

Everything printed comes from the snapshot's `organisation` (copied from the profile when the
report was made, backoffice.models.Organisation.snapshot) and `internal`. The logo is read from
storage by the name the snapshot records and must still have the SHA-256 recorded beside it; its
files are named by that digest and never overwritten, so an old report draws the same logo.
"""

import functools
import hashlib
import io

from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from reportlab.graphics import renderPDF
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from backoffice.logo import logo_svg_drawing

from ..charts import ACCENT, FONT, FONT_BOLD, INK, MUTED, RULE

INTERNAL = gettext_noop("Internal — not for donors")
INTERNAL_COLOUR = colors.HexColor("#9b1c1c")
LOGO_HEIGHT, LOGO_MAX_WIDTH = 10 * mm, 32 * mm


class LogoMissing(RuntimeError):
    """The logo a snapshot names is gone or changed: the report cannot be drawn as it was made."""


@functools.lru_cache(maxsize=8)
def logo_load(name: str, sha256: str, kind: str):
    """The logo as something to draw, with its natural width and height in points. Cached by its
    digest: the file under a digest's name never changes."""
    try:
        with default_storage.open(name, "rb") as f:
            data = f.read()
    except OSError as error:
        raise LogoMissing(f"The logo {name} is missing from storage ({error}).") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise LogoMissing(f"The logo {name} no longer has the SHA-256 the report recorded.")
    if kind == "svg":
        drawing = logo_svg_drawing(data)
        # The drawing starts in the embedded font, not reportlab's default Helvetica, which the PDF would not embed.
        drawing.initialFontName = FONT
        return drawing, drawing.width, drawing.height
    image = ImageReader(io.BytesIO(data))
    width, height = image.getSize()
    return image, width, height


def fit(text: str, font: str, size: float, width: float) -> str:
    """`text`, shortened with an ellipsis to fit `width`."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def page_frame_draw(canvas, *, snapshot: dict, subject: str, fingerprint: str, pagesize, margin: float) -> None:
    organisation = snapshot["organisation"]
    width, height = pagesize
    inner = width - 2 * margin
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(margin, height - 15 * mm, width - margin, height - 15 * mm)
    canvas.line(margin, 14 * mm, width - margin, 14 * mm)

    # Header: logo, the organisation's name and the report's title; the subject on the right.
    x = margin
    if organisation["logo"]:
        recorded = organisation["logo"]
        logo, natural_width, natural_height = logo_load(recorded["name"], recorded["sha256"], recorded["format"])
        scale = min(LOGO_HEIGHT / natural_height, LOGO_MAX_WIDTH / natural_width)
        drawn_width = natural_width * scale
        y = height - 14 * mm
        if isinstance(logo, ImageReader):
            canvas.drawImage(logo, x, y, width=drawn_width, height=natural_height * scale, mask="auto")
        else:
            # Drawn once per document as a form (a PDF XObject) that every page shows by name.
            form = f"logo-{recorded['sha256'][:16]}"
            if not canvas.hasForm(form):
                canvas.beginForm(form, 0, 0, natural_width, natural_height)
                renderPDF.draw(logo, canvas, 0, 0)
                canvas.endForm()
            canvas.saveState()
            canvas.translate(x, y)
            canvas.scale(scale, scale)
            canvas.doForm(form)
            canvas.restoreState()
        x += drawn_width + 3 * mm
    right_width = 70 * mm
    canvas.setFont(FONT_BOLD, 9)
    canvas.setFillColor(ACCENT)
    canvas.drawString(x, height - 9 * mm, fit(organisation["name"], FONT_BOLD, 9, width - margin - right_width - x))
    canvas.setFont(FONT, 7.5)
    canvas.setFillColor(INK)
    canvas.drawString(x, height - 12.5 * mm, snapshot["title"])
    canvas.setFillColor(MUTED)
    canvas.setFont(FONT, 8)
    canvas.drawRightString(width - margin, height - 12.5 * mm, fit(subject, FONT, 8, right_width))
    if snapshot.get("internal"):
        canvas.setFont(FONT_BOLD, 8)
        canvas.setFillColor(INTERNAL_COLOUR)
        canvas.drawRightString(width - margin, height - 8.5 * mm, _(INTERNAL))

    # Footer: who made it and how to reach them, and how anyone can check the report is genuine.
    size = 7
    canvas.setFont(FONT, size)
    canvas.setFillColor(MUTED)
    address = ", ".join(line.strip() for line in organisation["address"].splitlines() if line.strip())
    lines = [
        " · ".join(part for part in (organisation["name"], address) if part),
        " · ".join(
            part for part in (organisation["registration"], organisation["email"], organisation["website"]) if part
        ),
    ]
    for y, line in zip((10.5 * mm, 7.6 * mm), lines, strict=True):
        canvas.drawString(margin, y, fit(line, FONT, size, inner - 28 * mm))
    # Split around the address, which is shortened to fit the line.
    before, after = _("Verify this report at %(url)s — fingerprint %(fingerprint)s").split("%(url)s")
    after = after % {"fingerprint": fingerprint}
    room = inner - stringWidth(before + after, FONT, size)
    canvas.drawString(margin, 4.7 * mm, before + fit(organisation["verify_url"], FONT, size, room) + after)
    canvas.draw_page_count(width - margin, 10.5 * mm)
    canvas.restoreState()
