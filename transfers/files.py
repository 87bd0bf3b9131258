"""Reading import files safely: CSV (UTF-8, comma) and XLSX only, size-capped, no surprises.

Every problem with the file itself is a `FileRejected` with a message for finance staff,
raised before any row is looked at. Rows come out as lists of stripped strings with their
line number in the file (the header is line 1), so the parsers never see a float.
"""

import csv
import datetime as dt
import io
import pyexpat
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import openpyxl.xml
from django.conf import settings

assert openpyxl.xml.DEFUSEDXML, "defusedxml must be installed so openpyxl parses XLSX safely"

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls / .doc
BLANK_RUN_LIMIT = 1000
# Apache POI's zip bomb rule: a part that unpacks to more than 100 times its packed size (and
# to over a megabyte) is refused from the zip directory alone, before anything is unpacked.
XLSX_MAX_RATIO = 100
XLSX_RATIO_GRACE = 1024 * 1024
# openpyxl builds a whole <row> in memory before it yields it. Excel rows hold at most 16,384
# cells, each a few elements (<c><v>, <c><is><t>): more than this in one row is not a sheet.
XLSX_MAX_ROW_ELEMENTS = 4 * 16_384


def max_bytes() -> int:
    return settings.IMPORT_MAX_BYTES


def max_xlsx_uncompressed() -> int:
    return settings.IMPORT_MAX_XLSX_UNCOMPRESSED


def max_xlsx_cells() -> int:
    return settings.IMPORT_MAX_XLSX_CELLS


def max_rows() -> int:
    return settings.IMPORT_MAX_ROWS


class FileRejected(Exception):
    """The file cannot be read as an import file; the message says why and what to do."""


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (line number, cells)
    format: str


def open_table(stream, name: str, fmt: str | None = None) -> Table:
    """Sniff the file by its bytes (not its name) and return its header and a row iterator.

    `stream` is a binary file object opened at its start; `name` is the user's file name, which
    messages quote; `fmt` is the format the user chose ("csv" or "xlsx"), or None to go by the
    name (the command line).
    """
    size = _size(stream)
    name = display_name(name)
    if size > max_bytes():
        raise FileRejected(f"The file is {size:,} bytes; the limit is {max_bytes():,} bytes. Split it into parts.")
    if size == 0:
        raise FileRejected(f"{name} is empty.")
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    chosen = fmt or ("xlsx" if name.lower().endswith(".xlsx") else "csv")
    kind = _kind_of_file(head, stream)
    if kind == "xlsx":
        if chosen == "xlsx":
            return _xlsx_table(stream)
        if fmt:
            raise FileRejected(
                f"{name} is an Excel workbook (XLSX), not a CSV file. Choose the format xlsx, "
                "or save it from Excel as 'CSV UTF-8 (comma delimited)'."
            )
        raise FileRejected(
            f"{name} is an Excel workbook (XLSX) but its name does not end in .xlsx. "
            "Rename it to .xlsx, or save it from Excel as 'CSV UTF-8 (comma delimited)'."
        )
    if kind == "xls":
        raise FileRejected(
            f"{name} is an old Excel workbook (.xls) or another Office 97-2003 file. "
            "Save it as .xlsx or as 'CSV UTF-8 (comma delimited)'."
        )
    if kind == "utf-16":
        raise FileRejected(
            f"{name} is UTF-16 text (Excel's 'Unicode Text'), not a CSV file. "
            "Save it from Excel as 'CSV UTF-8 (comma delimited)'."
        )
    if kind != "text":
        wanted = "an Excel workbook (XLSX)" if chosen == "xlsx" else "a CSV file"
        raise FileRejected(
            f"{name} is not {wanted}: it is {kind}. Choose the file saved from your spreadsheet "
            "as 'CSV UTF-8 (comma delimited)' or as an Excel workbook (.xlsx)."
        )
    if chosen == "xlsx":
        if fmt:
            raise FileRejected(
                f"{name} is not an Excel workbook (XLSX): it is a text file. "
                "If it is a CSV file, choose the format csv."
            )
        raise FileRejected(f"{name} is named .xlsx but is not an Excel workbook. Check that it is the right file.")
    return _csv_table(stream)


def display_name(name: str) -> str:
    """The user's file name as messages quote it: without its folders, control characters shown
    as '?', at most 100 characters. Pages escape it as any text (autoescape, format_html)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("?" if unicodedata.category(c) == "Cc" else c for c in name) or "The file"
    return name if len(name) <= 100 else name[:99] + "…"


# The first bytes of the kinds of file people pick by mistake. A ZIP may be a workbook: its
# directory says (_zip_kind).
SIGNATURES = [
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "a Rich Text (RTF) document"),
]
SNIFF_BYTES = 8192


def _kind_of_file(head: bytes, stream) -> str:
    """'xlsx', 'xls', 'utf-16', 'text', or what the file is, in words ("a PDF document")."""
    if head.startswith(XLSX_MAGIC):
        return _zip_kind(stream)
    if head.startswith(OLE_MAGIC):
        return "xls"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for magic, kind in SIGNATURES:
        if head.startswith(magic):
            return kind
    # Text holds few control characters (a stray NUL in a cell is the reader's to report, by
    # line and column); Latin-1 or Windows-1252 text holds none either, and gets the "not UTF-8"
    # message from the CSV reader, which names the line.
    controls = sum(1 for byte in head if (byte < 32 and byte not in b"\t\n\r\x0c") or byte == 127)
    if controls > len(head) // 10:
        return "a binary file, not text"
    return "text"


def _zip_kind(stream) -> str:
    try:
        names = zipfile.ZipFile(stream).namelist()
    except (zipfile.BadZipFile, OSError, EOFError):
        return "xlsx"  # a damaged workbook, most likely: the workbook reader says how
    finally:
        stream.seek(0)
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if any(n.startswith("word/") for n in names):
        return "a Word document"
    if any(n.startswith("ppt/") for n in names):
        return "a PowerPoint presentation"
    if "mimetype" in names:
        return "an OpenDocument file (LibreOffice)"
    return "a ZIP archive"


def _size(stream) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


# CSV ------------------------------------------------------------------------------------


def _csv_table(stream) -> Table:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
    # The reader counts the physical lines it has taken (`line_num`), so a row's number is
    # the line it starts on, even when a quoted cell spans lines.
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
    except UnicodeDecodeError:
        raise FileRejected(_not_utf8(1))
    except csv.Error as error:
        raise FileRejected(f"Line 1: the header row cannot be read as CSV ({error}).")
    if header is None or not any(h.strip() for h in header):
        raise FileRejected("The file has no header row (the first line is blank).")
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    if len(header) == 1 and ";" in header[0]:
        raise FileRejected(
            "The file looks semicolon-delimited (';' between columns). Save it as "
            "'CSV UTF-8 (comma delimited)' with commas between columns and '.' as the decimal point."
        )
    if len(header) == 1 and "\t" in header[0]:
        raise FileRejected("The file looks tab-delimited. Save it as 'CSV UTF-8 (comma delimited)'.")
    return Table([h.strip() for h in header], _csv_rows(reader), "csv")


def _csv_rows(reader) -> Iterator[tuple[int, list[str]]]:
    count = 0
    limit = max_rows()
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise FileRejected(_not_utf8(start))
        except csv.Error as error:
            raise FileRejected(f"Line {start}: this line cannot be read as CSV ({error}).")
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        count += 1
        if count > limit:
            raise FileRejected(f"The file has more than {limit:,} rows. Split it into parts.")
        yield start, cells


def _not_utf8(line: int) -> str:
    return (
        f"Line {line}: the file is not UTF-8 text. Save it as 'CSV UTF-8 (comma delimited)', "
        "or check that it is a CSV file."
    )


# XLSX -----------------------------------------------------------------------------------


def _xlsx_table(stream) -> Table:
    import openpyxl

    try:
        archive = zipfile.ZipFile(stream)
        members = archive.infolist()
        # A zip bomb: small on disk, enormous once unpacked. Refuse it from the directory alone
        # (zipfile never unpacks more than a member's declared size).
        _check_unpacked_sizes(members)
        # Every part, whatever its name: openpyxl follows the workbook's own links to its parts.
        counter = _ElementCount()
        for member in members:
            counter.read(archive, member)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise FileRejected(f"The workbook is damaged and cannot be opened ({error}).")
    stream.seek(0)
    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a malformed workbook
        raise FileRejected(f"The workbook cannot be read ({type(error).__name__}: {error}).")
    sheet = book.worksheets[0]
    declared = sheet.max_row or 0
    if declared > max_rows() + 1:
        raise FileRejected(
            f"The first sheet declares {declared:,} rows (limit {max_rows():,}). Delete the empty rows "
            "below your data (or split the file) and save it again."
        )
    # The declared size is the file's claim: openpyxl would stop at its last row and drop the
    # rows below it. Read the rows that are there.
    sheet.reset_dimensions()
    header_cells = next(sheet.iter_rows(max_row=1, values_only=True), None)
    if header_cells is None or not any(_cell_text(c) for c in header_cells):
        book.close()
        raise FileRejected("The first sheet has no header row (its first row is blank).")
    header = [_cell_text(c) for c in header_cells]
    while header and header[-1] == "":
        header.pop()
    # Rows are read up to the header's last column: the cells to its right are not read.
    rows = sheet.iter_rows(min_row=2, max_col=len(header), values_only=True)
    return Table(header, _xlsx_rows(book, rows), "xlsx")


def _check_unpacked_sizes(members) -> None:
    unpacked = sum(m.file_size for m in members)
    if unpacked > max_xlsx_uncompressed():
        raise FileRejected(
            f"The workbook unpacks to {unpacked:,} bytes (limit {max_xlsx_uncompressed():,}); it is refused."
        )
    for m in members:
        if m.file_size > XLSX_RATIO_GRACE and m.file_size > XLSX_MAX_RATIO * max(m.compress_size, 1):
            raise FileRejected(
                f"The workbook's part {m.filename} unpacks to {m.file_size:,} bytes from {m.compress_size:,}, "
                f"more than {XLSX_MAX_RATIO} times its packed size, as a zip bomb does; it is refused. "
                "If the file is genuine, save it as 'CSV UTF-8 (comma delimited)' and import that."
            )


class _ElementCount:
    """Counts the workbook's XML elements as expat reads them, and stops at the first row too
    large for a sheet, or once the workbook holds more cells than any import needs. It only
    counts: openpyxl reads the values afterwards."""

    def __init__(self):
        self.total = 0
        self.row_start = None  # the count when the current <row> began
        self.line = 0

    def read(self, archive, member) -> None:
        self.row_start, self.line = None, 0
        parser = pyexpat.ParserCreate(namespace_separator="}")
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.EntityDeclHandler = _refuse_entities  # as defusedxml does for openpyxl
        with archive.open(member) as part:
            try:
                while chunk := part.read(64 * 1024):
                    parser.Parse(chunk, False)
            except pyexpat.ExpatError:
                pass  # not XML (an image), or malformed: openpyxl says so if it reads this part

    def start(self, name, attrs):
        self.total += 1
        if name.rpartition("}")[2] == "row":
            self.row_start = self.total
            self.line = _row_number(attrs.get("r"), self.line + 1)
        elif self.row_start is not None and self.total - self.row_start > XLSX_MAX_ROW_ELEMENTS:
            raise FileRejected(
                f"Line {self.line} of the sheet holds more than {XLSX_MAX_ROW_ELEMENTS:,} cells and values; "
                "an Excel row has at most 16,384 cells. Delete the cells right of your data and save it again."
            )
        if self.total > max_xlsx_cells():
            raise FileRejected(
                f"The workbook holds more than {max_xlsx_cells():,} cells and values. Split it into parts."
            )

    def end(self, name):
        if name.rpartition("}")[2] == "row":
            self.row_start = None


def _row_number(text, default: int) -> int:
    return int(text) if text and text.isdigit() else default


def _refuse_entities(*args):
    raise FileRejected("The workbook declares XML entities, which no spreadsheet needs; it is refused.")


def _xlsx_rows(book, rows) -> Iterator[tuple[int, list[str]]]:
    blank_run = 0
    try:
        for line, cells in enumerate(rows, start=2):
            texts = [_cell_text(c) for c in cells]
            if not any(texts):
                blank_run += 1
                if blank_run > BLANK_RUN_LIMIT:
                    raise FileRejected(
                        f"The sheet has more than {BLANK_RUN_LIMIT} blank rows in a row from line "
                        f"{line - blank_run + 1}. Delete the empty rows and save it again."
                    )
                continue
            blank_run = 0
            if line - 1 > max_rows():
                raise FileRejected(f"The file has more than {max_rows():,} rows. Split it into parts.")
            yield line, texts
    finally:
        book.close()


def _cell_text(value) -> str:
    """A cell as the text a finance user typed; typed cells become their canonical text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            return value.isoformat(sep=" ")
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 100.5, not 100.50000001.
        # It may say 1e-05 or nan; the strict parsers refuse those.
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value).strip()
