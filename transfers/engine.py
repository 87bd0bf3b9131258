"""The import engine: every kind of file goes through `import_run`, from the admin or the CLI.

Rules that hold for every kind (docs/imports.md):
- all or nothing: every row is validated; if any row is bad, nothing is written and every bad
  row is reported with its line, column and reason;
- rows are matched by their external reference, never by database id; a row that is already
  recorded with the same content is reported as unchanged; with different content, an error;
- the file is streamed and validated in chunks with one query per lookup per chunk, and new
  rows are written with `bulk_create_with_history` so the change history is kept.

Writing starts only while no error has been seen, and everything runs in one transaction that
is rolled back at the end if any row was bad, so a bad file leaves the database as it was.
"""

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models.expressions import RawSQL
from simple_history.utils import bulk_create_with_history

from backoffice import bulk

from .fields import CellError, money
from .files import FileRejected, Table

MAX_REPORTED_ERRORS = 10_000


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str
    value: str = ""  # the cell as read (a header error: the header's text); blank if none

    def as_dict(self) -> dict:
        """For storing and showing: control characters as visible symbols (PostgreSQL's JSON
        holds no NUL, and a value with one is what such an error is about)."""
        return {
            "line": self.line,
            "column": _visible(self.column),
            "value": _visible(self.value),
            "message": _visible(self.message),
        }

    def __str__(self):
        if not self.line:  # about the whole file
            return self.message
        where = f"Line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


def _visible(text: str) -> str:
    """U+0000 … U+001F as their Control Pictures (␀ …), DEL as ␡, U+0080 … U+009F as U+FFFD."""
    if text.isprintable():
        return text
    return text.translate(_CONTROL_PICTURES)


_CONTROL_PICTURES = {**{c: 0x2400 + c for c in range(32)}, 127: 0x2421, **dict.fromkeys(range(0x80, 0xA0), 0xFFFD)}


@dataclass
class Column:
    name: str
    parse: Callable[[str], Any]
    required: bool = True
    default: Any = None
    help: str = ""
    # Compared with the recorded value when the row is already there. A blank optional cell
    # that means "work it out" (a donation's rate) is not compared.
    compare_blank: bool = True
    # For the import page, the template and docs/imports.md (transfers.columns): a value the
    # parser accepts, what a blank cell means when `default` does not say it, and the format
    # when the parser's own description (transfers.fields.describe) does not fit.
    example: str = ""
    blank_means: str = ""
    format: str = ""


def ledger_amount_column(*, example: str) -> Column:
    """The `amount` of a ledger entry (a donation, an expense): in its currency's places, greater than
    zero when imported; a reversal's negative amount only comes back, unchanged, from an export."""
    return Column(
        "amount",
        partial(money, positive=False),
        format=(
            "Amount: digits, '.' and at most its currency's decimals (JPY none, GBP 2, KWD 3), "
            "no thousands separators; greater than zero"
        ),
        help="A reversal's negative amount, in an export, imports back as unchanged.",
        example=example,
    )


@dataclass(frozen=True)
class ExportColumn:
    """A column that exports write after the import columns, for the reader of the file (an
    accountant), and that imports ignore: what it shows is worked out by the ledger, never typed."""

    name: str
    format: str
    help: str = ""
    example: str = ""


@dataclass(slots=True)
class Row:
    line: int
    values: dict[str, Any]
    given: tuple[str, ...]  # the columns with a non-blank cell


def one_of(texts) -> RawSQL:
    """For `field__in=`: the texts as one JSON array parameter. A chunk's 10,000 references as
    10,000 placeholders cost more to build and send than the lookup itself, and as a list
    psycopg dumps them one by one in Python (measured on the busy shared machine, per 100,000:
    0.46 s; json.dumps, in C: 0.03 s)."""
    return RawSQL("SELECT json_array_elements_text(%s::json)", [json.dumps(list(texts))])


class ImportInterrupted(Exception):
    """The database ended the import before it was done (the connection was lost, or the
    statement cancelled): nothing was imported. The message is one line for the user. The
    connection may be unusable until the caller's outermost transaction ends."""


class RowProblem(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class Outcome:
    kind: str
    rows: int = 0
    new: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    notes: list[str] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def summary(self) -> str:
        if not self.ok:
            more = self.error_count - len(self.errors)
            tail = f" (the first {len(self.errors)} are listed)" if more else ""
            return f"{self.error_count} error(s){tail}; nothing was imported."
        verb = "would be imported" if self.dry_run else "imported"
        return f"{self.rows} row(s): {self.new} new {verb}, {self.unchanged} unchanged (already recorded)."


class Importer:
    """One kind of file. Subclasses declare columns and a key, and fill in the hooks."""

    kind: str = ""
    model = None
    columns: list[Column] = []
    export_columns: list[ExportColumn] = []  # written by exports, ignored by imports
    key: tuple[str, ...] = ()
    chunk_size = 5000
    dry_run = False  # set by import_run before start(): a check only, nothing will be written

    def __init__(self, *, user=None, post: bool = False, file_name: str = ""):
        self.user = user
        self.post = post
        self.file_name = file_name
        self.digest = hashlib.sha256()

    # Hooks ------------------------------------------------------------------------------

    def start(self) -> None:
        """Once, before the first chunk (load rate books, check the whole file's context)."""

    def load(self, rows: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
        """Per chunk: run the lookups the rows (each one's values by column name) need; return
        the recorded rows by key."""
        raise NotImplementedError

    def build(self, row: Row):
        """A new, unsaved instance for a valid new row, or raise RowProblem. Plain queries only, no
        server-side cursor (`.iterator()`): while rows are built, the last chunk's bulk writes may
        still be on the server, the connection in pipeline mode (backoffice.bulk.overlapped)."""
        raise NotImplementedError

    def write(self, instances: list) -> None:
        bulk_create_with_history(instances, self.model, batch_size=2000, default_user=self.user)

    def finish(self, outcome: Outcome, dry_run: bool) -> None:
        """After the last chunk, only when every row was valid."""

    def close(self) -> None:
        """Always, last, inside the transaction: end any write still in progress."""

    # Helpers ----------------------------------------------------------------------------

    def key_of(self, values: dict) -> tuple:
        return tuple(values[name] for name in self.key)

    def key_text(self, key: tuple) -> str:
        return " / ".join(str(k) for k in key)

    @classmethod
    def column_names(cls) -> list[str]:
        return [c.name for c in cls.columns]

    @classmethod
    def export_names(cls) -> list[str]:
        """An export's header: the import columns, then the export-only ones."""
        return cls.column_names() + [c.name for c in cls.export_columns]


def import_run(
    importer: Importer,
    table: Table,
    *,
    dry_run: bool = False,
    report: Callable[[int, str, str], None] | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Validate every row of `table`; write the new ones in one transaction unless any is bad.

    `report(line, key, status)` is called for each valid row ('new' or 'unchanged'), and
    `progress(outcome)` after each chunk, with the counts so far, while that chunk's writes may
    still be on the server: it uses a connection of its own (as transfers.jobs does).
    """
    outcome = Outcome(kind=importer.kind, dry_run=dry_run)
    positions = _check_header(importer, table.header, outcome)
    if not outcome.ok:
        return outcome
    ignored = [name for name in table.header if name in {c.name for c in importer.export_columns}]
    if ignored:
        outcome.notes.append(
            f"The column{'s' if len(ignored) > 1 else ''} {', '.join(ignored)} "
            f"{'are' if len(ignored) > 1 else 'is'} written by exports only and not read: an import never sets them."
        )
    importer.digest.update(repr(table.header).encode())
    importer.dry_run = dry_run
    seen: dict = {}
    # Outermost, so that the transaction has ended (rolled back, or its connection dropped) first.
    with _database_stop_explained(), transaction.atomic():
        try:
            try:
                importer.start()
                plan = _parse_plan(importer, positions)
                rows = iter(table.rows)
                # A chunk's writes finish on the server while the next chunk is parsed and built (backoffice.bulk).
                with bulk.overlapped():
                    while _run_chunk(
                        importer, islice(rows, importer.chunk_size), plan, len(table.header), seen, outcome,
                        dry_run, report,
                    ):  # fmt: skip
                        if progress:
                            progress(outcome)
                if outcome.rows == 0 and outcome.ok:
                    outcome.add_error(RowError(0, "", "The file has a header row but no data rows."))
                if outcome.ok:
                    importer.finish(outcome, dry_run)
            finally:
                importer.close()
        except FileRejected as error:
            outcome.add_error(RowError(0, "", str(error)))
        except RowProblem as problem:
            outcome.add_error(RowError(0, problem.column, problem.message))
        except IntegrityError as error:
            # Another import or a user recorded one of these rows while this file was read.
            outcome.add_error(
                RowError(0, "", f"The database refused the rows ({error}); nothing was imported. Run the import again.")
            )
        outcome.written = outcome.ok and not dry_run and outcome.new > 0
        if not outcome.ok or dry_run:
            transaction.set_rollback(True)
    _in_file_order(outcome)
    return outcome


def _in_file_order(outcome: Outcome) -> None:
    """A chunk's cell errors are found before its rows' lookups are, and a whole file's checks
    (a pledge's schedule) after every row: list them by line, each line's in the order found.
    Errors about the whole file (line 0) come first."""
    outcome.errors.sort(key=lambda error: error.line)


@contextlib.contextmanager
def _database_stop_explained():
    """A lost connection or a cancelled statement becomes ImportInterrupted, whose message says
    what the database said first: once a connection is cut, closing its cursors fails again
    ("the connection is closed"), and the error that reaches here is that later one."""
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        first, chain = error, error
        while (chain := chain.__cause__ or chain.__context__) is not None:
            if isinstance(chain, DatabaseError):
                first = chain
        said = str(first).strip().split("\n", 1)[0] or type(first).__name__
        message = f"The database ended the import ({said}); nothing was imported. Run it again."
        raise ImportInterrupted(message) from error


def _check_header(importer: Importer, header: list[str], outcome: Outcome) -> dict[str, int]:
    known = {c.name: c for c in importer.columns}
    export_only = {c.name for c in importer.export_columns}
    positions: dict[str, int] = {}
    seen: set[str] = set()
    for index, name in enumerate(header):
        if name == "":
            outcome.add_error(RowError(1, f"#{index + 1}", "This column has no name in the header row."))
        elif name in seen:
            outcome.add_error(RowError(1, name, f"Column {name!r} appears twice in the header row.", name))
        elif name in export_only:
            seen.add(name)  # an export read back: known, and not read
        elif name not in known:
            close = [k for k in known if k.replace("_", "") == name.lower().replace("_", "").replace(" ", "")]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            message = f"Unknown column {name!r}.{hint} The columns are: {', '.join(known)}."
            outcome.add_error(RowError(1, name, message, name))
        else:
            seen.add(name)
            positions[name] = index
    for column in importer.columns:
        if column.required and column.name not in positions:
            outcome.add_error(RowError(1, column.name, f"The required column {column.name!r} is missing."))
    return positions


def _run_chunk(importer, chunk, plan, width, seen, outcome, dry_run, report) -> int:
    """Parse, check and write the rows of `chunk` (an iterator); return how many lines it had."""
    # The valid rows, column by column: a dict of plain values is not tracked by the garbage
    # collector, and a Row (a tuple holding a dict) would be, so a chunk's rows would be
    # scanned by every full collection while the chunk is alive.
    lines: list[int] = []
    values: list[dict] = []
    given: list[tuple] = []
    keys: list[tuple] = []
    cells_of: list[tuple] = []  # each valid row's cells as read, for the errors found later
    digest = importer.digest.update
    count = 0
    for line, cells in chunk:
        count += 1
        outcome.rows += 1
        digest(repr(cells).encode())
        row = _parse_row(plan, line, cells, width, outcome)
        if row is None:
            continue
        key = importer.key_of(row.values)
        # The one structure that grows with the file: keep it lean (a bare string for a
        # one-column key, not a 1-tuple) so a million-row file stays within memory.
        seen_key = key[0] if len(key) == 1 else key
        first = seen.get(seen_key)
        if first is not None:
            message = f"{importer.key_text(key)} is also on line {first}; each row must have its own reference."
            outcome.add_error(RowError(line, importer.key[0], message, _cell(plan, cells, importer.key[0])))
            continue
        seen[seen_key] = line
        lines.append(line)
        values.append(row.values)
        given.append(row.given)
        keys.append(key)
        cells_of.append(tuple(cells))  # a tuple of str: the collector stops tracking it
    bulk.settle()  # the last chunk's history rows, written while this chunk was parsed
    if not values:
        return count
    recorded = importer.load(values)
    bulk.send()  # the last chunk's foreign-key checks: on the server while this chunk is built
    new = []
    for row, key, cells in zip(map(Row, lines, values, given), keys, cells_of, strict=True):
        try:
            before = recorded.get(key)
            if before is not None:
                _check_unchanged(importer, row, key, before)
                outcome.unchanged += 1
                if report:
                    report(row.line, importer.key_text(key), "unchanged")
                continue
            new.append(importer.build(row))
        except RowProblem as problem:
            outcome.add_error(RowError(row.line, problem.column, problem.message, _cell(plan, cells, problem.column)))
            continue
        except ValidationError as error:
            for column, message in _validation_messages(error):
                outcome.add_error(RowError(row.line, column, message, _cell(plan, cells, column)))
            continue
        outcome.new += 1
        if report:
            report(row.line, importer.key_text(key), "new")
    if new and outcome.ok and not dry_run:
        importer.write(new)
    return count


# Parsed cells kept per column, so a value that repeats (a date, a donor, a currency) is parsed
# once: the parsers (transfers.fields) are pure functions of the cell's text and return values
# that cannot change (str, Decimal, date, bool). Bounded, so a column of unique values (a
# reference) costs no memory beyond it.
PARSED_KEPT = 2048


def _parse_plan(importer, positions) -> list[tuple]:
    """Per file, once: each column's cell position, parser, what a blank cell means, and the
    column's parsed values kept so far."""
    return [(c.name, positions.get(c.name), c.parse, c.required, c.default, {}) for c in importer.columns]


_NOT_KEPT = object()


def _cell(plan, cells: list[str], column: str) -> str:
    """The cell of `column` in a row as read, or "" when the file has no such column."""
    for name, index, *_ in plan:
        if name == column:
            return cells[index] if index is not None and index < len(cells) else ""
    return ""


def _parse_row(plan, line, cells, width, outcome) -> Row | None:
    errors = False
    if len(cells) != width:
        if len(cells) > width and any(c for c in cells[width:]):
            message = f"This row has {len(cells)} cells but the header has {width} columns."
            outcome.add_error(RowError(line, "", message, ",".join(cells[width:])))
            return None
        cells = [*cells[:width], *[""] * (width - len(cells))]  # a short row: its missing cells are blank
    values, given = {}, []
    for name, index, parse, required, default, kept in plan:
        raw = cells[index] if index is not None else ""
        if not raw:
            if required:
                outcome.add_error(RowError(line, name, "This cell is empty; a value is required."))
                errors = True
            values[name] = default
            continue
        value = kept.get(raw, _NOT_KEPT)
        if value is _NOT_KEPT:
            try:
                value = parse(raw)
            except CellError as error:
                outcome.add_error(RowError(line, name, str(error)[:1].upper() + str(error)[1:] + ".", raw))
                errors = True
                continue
            if len(kept) < PARSED_KEPT:
                kept[raw] = value
        values[name] = value
        given.append(name)
    return None if errors else Row(line, values, tuple(given))


def _check_unchanged(importer: Importer, row: Row, key: tuple, before: dict) -> None:
    for column in importer.columns:
        if column.name not in before or column.name in importer.key:
            continue
        if not column.compare_blank and column.name not in row.given:
            continue
        here, there = row.values[column.name], before[column.name]
        if here != there and not (here in (None, "") and there in (None, "")):
            raise RowProblem(
                column.name,
                f"{importer.key_text(key)} is already recorded with {column.name} {_show(there)}, "
                f"but this row says {_show(here)}. An import never changes a recorded {importer.kind}; "
                "correct it in the admin.",
            )


def _show(value) -> str:
    return "(blank)" if value in (None, "") else repr(str(value))


def _validation_messages(error: ValidationError):
    if hasattr(error, "error_dict"):
        for column, errors in error.error_dict.items():
            for e in errors:
                yield column, " ".join(e.messages)
    else:
        for message in error.messages:
            yield "", message
