"""Each kind's columns in words, from the importer's own column definitions: the table on the
import page, the template file and the tables in docs/imports.md (a test compares them), so
none of them can say something the import does not do.

The template is the header row alone. An example row would be imported as a real record if it
were left in (a donation of 25,000.00 from a real donor reference); the examples live in the
table beside the template instead, and a header-only file is refused ("no data rows").
"""

import io
from dataclasses import dataclass

from . import export
from .engine import Column, Importer
from .fields import describe

EXPORT_ONLY = "export only"


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    required: str  # "yes", "no" or EXPORT_ONLY
    blank_means: str
    format: str
    example: str
    notes: str


def column_docs(importer_class: type[Importer]) -> list[ColumnDoc]:
    """The import columns in file order, then the export-only columns."""
    docs = [
        ColumnDoc(
            name=c.name,
            required="yes" if c.required else "no",
            blank_means=_blank_means(c),
            format=c.format or describe(c.parse),
            example=c.example,
            notes=c.help,
        )
        for c in importer_class.columns
    ]
    docs += [
        ColumnDoc(name=c.name, required=EXPORT_ONLY, blank_means="—", format=c.format, example=c.example, notes=c.help)
        for c in importer_class.export_columns
    ]
    return docs


def _blank_means(column: Column) -> str:
    if column.required:
        return "—"
    if column.blank_means:
        return column.blank_means
    if column.default in (None, ""):
        return "(blank)"
    if isinstance(column.default, bool):
        return "true" if column.default else "false"
    return str(column.default)


def template_name(kind: str) -> str:
    return f"{kind}-template.csv"


def template_csv(importer_class: type[Importer]) -> bytes:
    """The template to fill in: the header row of the columns an import reads."""
    out = io.BytesIO()
    export.write_csv(importer_class.column_names(), [], out)
    return out.getvalue()


def markdown(importer_class: type[Importer]) -> str:
    """The kind's column table for docs/imports.md."""
    lines = [
        "| column | required | blank means | format | example | notes |",
        "|---|---|---|---|---|---|",
    ]
    for doc in column_docs(importer_class):
        cells = [
            f"`{doc.name}`",
            doc.required,
            doc.blank_means,
            doc.format,
            f"`{doc.example}`" if doc.example else "",
            doc.notes,
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
