"""A department table delivered as a file (CSV, or an Excel workbook's first sheet), for the
departments without change data capture: each row published through the SDK as a snapshot
read of its source.

Columns are mapped by header through the same declaration as change data capture
(``topics/cdc.py``): a header is the department's column name (renamed as declared) or the
govbus field's own. Every row is checked and encoded before anything is sent; one bad row
(or an unknown header) and nothing is sent, each problem reported with its row number.

A re-import of the same file changes nothing: a row's position is the file's modification
time and the row's number, so the row tables judge the second import's reads duplicates (the
same position under another event id) and emit no fact for them. A new export is a new
snapshot. ``complete`` marks the rows as one snapshot run
(``first`` .. ``last``): the file is the whole table, and a row the bus holds that the file
lacks is deleted when the run closes.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.publisher import ChangeEventPublisher, PreparedEvent, RecordRejectedError
from topics.annotations import RecordSpec
from topics.cdc import DepartmentTable
from topics.schemas import row_spec

SUFFIXES = (".csv", ".xlsx")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (its kind, its header)."""


@dataclass
class ImportReport:
    rows: int = 0
    sent: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, Sequence[Any]]]:
    """(row number as a spreadsheet shows it, cells), the header row first (number 1)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # utf-8-sig: the byte-order mark Excel writes in front of a CSV's header.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from enumerate(csv.reader(handle), start=1)
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            yield from enumerate(book.worksheets[0].iter_rows(values_only=True), start=1)
        finally:
            book.close()
    else:
        raise ImportFileError(f"{path.name}: not a .csv or .xlsx file")


def header_fields(table: DepartmentTable, spec: RecordSpec, header: Sequence[Any]
                  ) -> list[str | None]:
    """The govbus field of each column (None for an empty header cell)."""
    fields = {f.name for f in spec.fields}
    mapped: list[str | None] = []
    unknown: list[str] = []
    for cell in header:
        name = "" if cell is None else str(cell).strip()
        if not name:
            mapped.append(None)
            continue
        field_name = table.field_of(name.lower())
        if field_name not in fields:
            unknown.append(name)
        mapped.append(field_name)
    if unknown:
        raise ImportFileError(f"unknown column(s) {', '.join(unknown)}; {table.source} has "
                              f"{', '.join(sorted(fields | set(table.renames)))}")
    missing = [k for k in (table.field_of(c) for c in table.key) if k not in mapped]
    if missing:
        raise ImportFileError(f"the key column(s) {', '.join(missing)} are missing")
    return mapped


def cell_value(value: Any, number: bool) -> Any:
    """A cell as the raw row holds it: text (Excel's dates as ISO dates, its whole numbers
    without ``.0``), a number for a number field, None for an empty cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if number:
        return float(value)
    if isinstance(value, dt.datetime):
        return (value.date().isoformat() if value.time() == dt.time() else
                value.isoformat(sep=" "))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def prepare(path: Path, table: DepartmentTable, publisher: ChangeEventPublisher,
            complete: bool = False) -> tuple[list[PreparedEvent], ImportReport]:
    """Every row of the file checked and encoded; the report names each bad row."""
    spec = row_spec(table.source)
    numbers = {f.name for f in spec.fields if _is_number(f.avro_type)}
    ts_ms = int(path.stat().st_mtime * 1000)
    rows = read_rows(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ImportFileError(f"{path.name} is empty") from None
    fields = header_fields(table, spec, header)
    report = ImportReport()
    found: list[tuple[int, dict[str, Any]]] = []
    for number, cells in rows:
        if all(c is None or not str(c).strip() for c in cells):
            continue
        report.rows += 1
        try:
            found.append((number, {name: cell_value(value, name in numbers)
                                   for name, value in zip(fields, cells, strict=False)
                                   if name is not None}))
        except ValueError as exc:
            report.bad_rows.append((number, f"not a number: {exc}"))
    prepared: list[PreparedEvent] = []
    for index, (number, row) in enumerate(found):
        marker = "true"
        if complete and index == 0:
            marker = "first"
        if complete and index == len(found) - 1:
            marker = "last"
        try:
            prepared.append(publisher.prepare(
                "r", after=row, sequence=str(number), source_ts_ms=ts_ms, snapshot=marker))
        except RecordRejectedError as exc:
            report.bad_rows.append((number, str(exc)))
    report.bad_rows.sort()
    return prepared, report


def _is_number(avro_type: Any) -> bool:
    branches = avro_type if isinstance(avro_type, list) else [avro_type]
    return any(b in ("int", "long", "float", "double") for b in branches)
