"""XLSX files built to exhaust the reader: refused, or read, in bounded time and memory."""

import io
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from transfers.files import FileRejected, open_table

ROOT = Path(__file__).resolve().parents[2]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADER = ["reference", "donor_ref", "received_on", "amount", "currency", "method", "pledge_ref", "rate", "note"]
GOOD = ["BANK-{n}", "DON-0001", "2025-03-02", "100.00", "GBP", "", "", "", ""]


def parts() -> dict[str, str]:
    """A minimal workbook around xl/worksheets/sheet1.xml (inline strings, no shared strings)."""
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    return {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{rels}"><sheets><sheet name="data" sheetId="1" r:id="rId1"/>'
            "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
    }


def inline_row(number: int, values: list[str], extra: str = "") -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values) if v
    )
    return f'<row r="{number}">{cells}{extra}</row>'


def write_workbook(path: Path, sheet_pieces, dimension: str = "A1:I2") -> Path:
    """The sheet is written piece by piece, so a sheet of 80 MB never sits in memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts().items():
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/><sheetData>'.encode())
            for piece in sheet_pieces:
                sheet.write(piece.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def good_row(n: int, extra: str = "") -> str:
    return inline_row(n, [v.format(n=n) for v in GOOD], extra)


# Runs open_table in a fresh interpreter: its CPU time and the growth of its peak memory (RSS)
# are the reader's own, and a reader that runs away is stopped by the CPU limit instead of
# taking the machine.
LIMITS = ("IMPORT_MAX_BYTES", "IMPORT_MAX_ROWS", "IMPORT_MAX_XLSX_UNCOMPRESSED", "IMPORT_MAX_XLSX_CELLS")
MEASURE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_CPU, (5, 5))
from django.conf import settings
settings.configure(**json.loads(sys.argv[2]))
import openpyxl  # imported before the measure starts: the import is not the reader's work
from transfers.files import FileRejected, open_table
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.process_time()
try:
    with open(sys.argv[1], "rb") as stream:
        table = open_table(stream, "bomb.xlsx")
        outcome = {"read": sum(1 for _ in table.rows)}
except FileRejected as error:
    outcome = {"refused": str(error)}
outcome["cpu_seconds"] = time.process_time() - started
outcome["peak_growth_bytes"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) * 1024
print(json.dumps(outcome))
"""


def measure(path: Path) -> dict:
    """The reader's outcome, under this test run's import limits."""
    limits = {name: getattr(settings, name) for name in LIMITS}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), json.dumps(limits)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the reader did not finish (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def test_a_row_of_twenty_million_empty_cells_is_refused_at_once(tmp_path):
    """The issue's file: 20 million <c/> in one row, 80 MB unpacked, about 80 KB packed."""
    header = inline_row(1, HEADER).removesuffix("</row>")
    empty = "<c/>" * 1_000_000
    path = write_workbook(tmp_path / "bomb.xlsx", [header, *[empty] * 20, "</row>"], dimension="A1:I1")
    assert path.stat().st_size < 200_000

    outcome = measure(path)

    assert outcome["refused"].startswith("The workbook's part xl/worksheets/sheet1.xml unpacks to 80,")
    assert "more than 100 times its packed size, as a zip bomb does; it is refused." in outcome["refused"]
    assert outcome["cpu_seconds"] < 1.0
    assert outcome["peak_growth_bytes"] < 100 * 1024 * 1024


def test_a_row_too_wide_for_excel_is_refused_before_it_is_read(tmp_path):
    """Numbers that do not pack well, so the part passes the zip bomb rule: the row is counted."""
    rng = random.Random(14)
    cells = "".join(f"<c><v>{rng.randrange(10**9)}</v></c>" for _ in range(40_000))
    path = write_workbook(tmp_path / "wide.xlsx", [inline_row(1, HEADER), good_row(2), f'<row r="3">{cells}</row>'])

    outcome = measure(path)

    assert outcome["refused"] == (
        "Line 3 of the sheet holds more than 65,536 cells and values; an Excel row has at most 16,384 cells. "
        "Delete the cells right of your data and save it again."
    )
    assert outcome["cpu_seconds"] < 1.0
    assert outcome["peak_growth_bytes"] < 100 * 1024 * 1024


def test_rows_are_read_up_to_the_last_header_column(tmp_path):
    """Cells right of the header (here a formatted cell in Excel's last column) are not read."""
    path = write_workbook(
        tmp_path / "formatted.xlsx",
        [inline_row(1, HEADER, '<c r="XFD1" s="1"/>'), *(good_row(n, f'<c r="XFD{n}" s="1"/>') for n in range(2, 502))],
        dimension="A1:XFD501",
    )
    with path.open("rb") as stream:
        table = open_table(stream, path.name)
        rows = list(table.rows)
    assert table.header == HEADER
    assert [line for line, _ in rows] == list(range(2, 502))
    assert {len(cells) for _, cells in rows} == {len(HEADER)}
    assert rows[0][1] == ["BANK-2", "DON-0001", "2025-03-02", "100.00", "GBP", "", "", "", ""]


def test_rows_below_a_too_small_declared_size_are_read(tmp_path):
    path = write_workbook(tmp_path / "short.xlsx", [inline_row(1, HEADER), *(good_row(n) for n in range(2, 7))])
    with path.open("rb") as stream:
        assert [line for line, _ in open_table(stream, path.name).rows] == [2, 3, 4, 5, 6]


def test_a_workbook_with_more_cells_than_the_limit_is_refused(tmp_path, settings):
    settings.IMPORT_MAX_XLSX_CELLS = 1000
    path = write_workbook(tmp_path / "many.xlsx", [inline_row(1, HEADER), *(good_row(n) for n in range(2, 202))])
    with path.open("rb") as stream, pytest.raises(FileRejected) as refused:
        open_table(stream, path.name)
    assert str(refused.value) == "The workbook holds more than 1,000 cells and values. Split it into parts."


def test_a_workbook_declaring_entities_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in parts().items():
            z.writestr(name, text)
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]><worksheet xmlns="{MAIN}"><sheetData/></worksheet>',
        )
    with pytest.raises(FileRejected) as refused:
        open_table(io.BytesIO(buffer.getvalue()), "entities.xlsx")
    assert str(refused.value) == "The workbook declares XML entities, which no spreadsheet needs; it is refused."
