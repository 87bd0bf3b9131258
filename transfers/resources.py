"""django-import-export adapters: the admin's import/export buttons run the same engine,
rules and escaping as `manage.py import_data` / `export_data`.

A resource does no parsing or validation of its own: `import_data` hands the rows to
`transfers.engine.import_run` and turns the outcome into an import-export `Result` (each
bad row with its line and column for the admin's error table); `export` takes its rows
from the kind's `export_rows`. The formats read files through `transfers.files` (size cap,
UTF-8, semicolons, zip bombs) and write them through `transfers.export` (formula escaping).
"""

import io

import tablib
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import resources
from import_export.fields import Field
from import_export.formats.base_formats import Format
from import_export.results import Result, RowResult

from . import export
from .engine import import_run
from .files import Table, open_table

PREVIEW_ROWS = 1000
PREVIEW_ERRORS = 100  # a page, not a million rows: the count says how many more


class TransferDataset(tablib.Dataset):
    """A dataset that remembers each row's line in the file and its cells as read."""

    transfer_rows: list[tuple[int, list[str]]] = []


class _TransferFormat(Format):
    extension = ""

    def __init__(self, encoding=None):
        self.encoding = encoding  # unused: CSV is always UTF-8
        self.file_name = ""  # the user's, for messages: set by the admin before create_dataset

    def get_title(self):
        return self.extension

    def get_extension(self):
        return self.extension

    def get_content_type(self):
        return export.CONTENT_TYPES[self.extension]

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def can_import(self):
        return True

    def can_export(self):
        return True

    def create_dataset(self, in_stream):
        data = in_stream if isinstance(in_stream, bytes) else in_stream.encode()
        table = open_table(io.BytesIO(data), self.file_name or f"uploaded.{self.extension}", self.extension)
        dataset = TransferDataset(headers=table.header)
        dataset.transfer_rows = list(table.rows)
        width = len(table.header)
        for _line, cells in dataset.transfer_rows:
            dataset.append((cells + [""] * width)[:width])
        return dataset

    def export_data(self, dataset, **kwargs):
        out = io.BytesIO()
        export.write(self.extension, list(dataset.headers), dataset, out)
        return out.getvalue()


class CSV(_TransferFormat):
    extension = "csv"


class XLSX(_TransferFormat):
    extension = "xlsx"


FORMATS = [CSV, XLSX]


class TransferResource(resources.ModelResource):
    importer_class = None

    @classmethod
    def for_importer(cls, importer_class):
        """A resource class whose fields are exactly the kind's file columns, export-only ones included."""
        names = importer_class.export_names()
        attrs = {name: Field(attribute=name, column_name=name) for name in names}
        attrs["Meta"] = type("Meta", (), {"model": importer_class.model, "fields": tuple(names)})
        attrs["importer_class"] = importer_class
        attrs["__module__"] = cls.__module__
        return type(f"{importer_class.__name__.removesuffix('Importer')}Resource", (cls,), attrs)

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None, **kwargs):
        options = {"confirm_duplicates": True} if kwargs.get("confirm_duplicates") else {}
        importer = self.importer_class(user=kwargs.get("user"), file_name=kwargs.get("file_name") or "", **options)
        rows = getattr(dataset, "transfer_rows", None)
        if rows is None:
            rows = [(line, ["" if c is None else str(c) for c in row]) for line, row in enumerate(dataset, start=2)]
        header = list(dataset.headers or [])
        by_line = dict(rows)
        statuses = []
        outcome = import_run(
            importer,
            Table(header, iter(rows), "dataset"),
            dry_run=dry_run,
            report=lambda line, key, status: statuses.append((line, key, status)),
        )
        result = Result()
        result.diff_headers = header
        result.total_rows = outcome.rows
        result.transfer_outcome = outcome
        if not outcome.ok:
            for error in outcome.errors[:PREVIEW_ERRORS]:
                cells = dict(zip(header, by_line.get(error.line, []), strict=False))
                result.append_invalid_row(
                    error.line or "—", cells, ValidationError({error.column or NON_FIELD_ERRORS: [error.message]})
                )
            if outcome.error_count > PREVIEW_ERRORS:
                more = outcome.error_count - PREVIEW_ERRORS
                result.append_invalid_row(
                    "…",
                    {},
                    ValidationError(
                        {
                            NON_FIELD_ERRORS: [
                                f"{outcome.error_count} errors in all; the first {PREVIEW_ERRORS} are shown, "
                                f"{more} more are not. `manage.py import_data KIND FILE --dry-run` lists them all."
                            ]
                        }
                    ),
                )
            result.totals[RowResult.IMPORT_TYPE_INVALID] = outcome.error_count
            return result
        for line, key, status in statuses[:PREVIEW_ROWS]:
            row = RowResult()
            row.import_type = RowResult.IMPORT_TYPE_NEW if status == "new" else RowResult.IMPORT_TYPE_SKIP
            row.object_repr = key
            row.diff = list(by_line.get(line, []))[: len(header)]
            result.append_row_result(row)
        result.totals[RowResult.IMPORT_TYPE_NEW] = outcome.new
        result.totals[RowResult.IMPORT_TYPE_SKIP] = outcome.unchanged
        return result

    def export(self, queryset=None, **kwargs):
        names = self.importer_class.export_names()
        selected = kwargs.get("export_fields") or names
        keep = [i for i, name in enumerate(names) if name in selected]
        dataset = tablib.Dataset(headers=[names[i] for i in keep])
        for row in self.importer_class.export_rows(queryset):
            dataset.append([row[i] for i in keep])
        return dataset
