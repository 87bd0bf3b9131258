"""The organisation's logo: which files are accepted, and the drawing a report prints.

The type is read from the bytes, never from the file name. A PNG is opened with Pillow and its
size checked; an SVG is parsed with defusedxml (no DTD, no entities) and refused when it refers
to anything outside itself (an <image>, a <script>, a link to another file), because svglib
would otherwise read that file from this machine into the PDF.
"""

import hashlib
import io

import defusedxml.ElementTree as SafeXML
from defusedxml import DefusedXmlException
from django.core.exceptions import ValidationError

LOGO_MAX_BYTES = 512 * 1024
PNG_SIDE_MIN, PNG_SIDE_MAX = 64, 4000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
_SVG_REFUSED = {"image", "script", "foreignObject", "iframe", "video", "audio"}


def logo_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def logo_check(data: bytes, *, name: str = "the file") -> str:
    """The logo's format ("png" or "svg"), or ValidationError saying what is wrong with it."""
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            f"{name} is {len(data):,} bytes; a logo may be at most {LOGO_MAX_BYTES // 1024} KB. "
            "Export it smaller (an SVG, or a PNG of a few hundred pixels)."
        )
    if data.startswith(PNG_SIGNATURE):
        _png_check(data, name)
        return "png"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in data:
        _svg_check(data, name)
        return "svg"
    raise ValidationError(f"{name} is neither a PNG nor an SVG image (read from its content, not its name).")


def _png_check(data: bytes, name: str) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValidationError(f"{name} is not a readable PNG ({error}).") from None
    if not (min(width, height) >= PNG_SIDE_MIN and max(width, height) <= PNG_SIDE_MAX):
        raise ValidationError(
            f"{name} is {width} × {height} pixels; a PNG logo must be {PNG_SIDE_MIN} to {PNG_SIDE_MAX} pixels a side."
        )


def _svg_check(data: bytes, name: str) -> None:
    try:
        root = SafeXML.fromstring(data, forbid_dtd=True)
    except (SafeXML.ParseError, DefusedXmlException) as error:
        raise ValidationError(f"{name} is not a well-formed SVG without a DTD ({error}).") from None
    if root.tag != f"{SVG_NAMESPACE}svg":
        raise ValidationError(f"{name} is not an SVG: its root element is <{root.tag}>, not the SVG namespace's <svg>.")
    for element in root.iter():
        tag = element.tag.removeprefix(SVG_NAMESPACE) if isinstance(element.tag, str) else ""
        if tag in _SVG_REFUSED:
            raise ValidationError(
                f"{name} contains <{tag}>: a logo must be drawn in the SVG itself, with no images or scripts."
            )
        for attribute, value in element.attrib.items():
            if attribute.endswith("href") and not value.startswith("#"):
                raise ValidationError(f"{name} refers to {value!r}: a logo may only refer to parts of itself (#id).")
    drawing = logo_svg_drawing(data)
    if drawing is None or not (drawing.width > 0 and drawing.height > 0):
        raise ValidationError(f"{name} has no size: give the <svg> a width and height, or a viewBox.")


def logo_svg_drawing(data: bytes):
    """The SVG as a reportlab Drawing (None when svglib cannot read it). Only for SVGs that passed logo_check."""
    from svglib.svglib import svg2rlg

    return svg2rlg(io.BytesIO(data))
