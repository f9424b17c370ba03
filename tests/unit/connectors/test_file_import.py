"""`govbus import`: a department's CSV or Excel export, mapped by header through the source's
declaration, checked whole before anything is sent (publisher doubles, no broker)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from connectors.file_import import ImportFileError, prepare
from connectors.publisher import ChangeEventPublisher
from tests.unit.connectors.test_publisher import DictRegistry, RecordingProducer
from topics.catalog import catalog_in
from topics.cdc import department_table
from topics.serde import AvroDecoder

TABLE = department_table("household.resident")
HEADER = ["RYBH", "GMSFHM", "XM", "XB", "CSRQ", "MZ", "XZQH", "ZZ", "LXDH", "ZT", "DJRQ"]
ROWS: list[list[Any]] = [
    ["R1", "11010519491231002X", "张三", "2", "1949-12-31", "01", "110105",
     "北京市朝阳区建国路88号", None, "正常", "2001-03-04"],
    ["R2", "110101750312041", "李四", "1", "1975-03-12", "01", "110101", "北京市东城区东长安街1号",
     "13812345678", "正常", "2001-03-04"],
]


def _publisher() -> tuple[ChangeEventPublisher, RecordingProducer, AvroDecoder]:
    producer, registry = RecordingProducer(), DictRegistry()
    publisher = ChangeEventPublisher(catalog_in("unit."), TABLE.source,
                                     producer, registry)  # type: ignore[arg-type]
    return publisher, producer, AvroDecoder(registry.texts.__getitem__)


def _csv(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    lines = [",".join(header), *(",".join("" if v is None else str(v) for v in r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return path


def test_a_csv_becomes_snapshot_reads_under_govbus_names(tmp_path: Path) -> None:
    publisher, _, decoder = _publisher()
    events, report = prepare(_csv(tmp_path / "hj.csv", ROWS), TABLE, publisher)
    assert report.rows == 2 and not report.bad_rows
    first = decoder.decode(events[0].value)
    assert first["op"] == "r" and first["source"]["snapshot"] == "true"
    assert first["after"]["id_number"] == "11010519491231002X"
    assert first["after"]["phone"] is None  # an empty cell is a NULL
    assert first["source"]["sequence"] == "2"  # the row number as a spreadsheet shows it
    assert first["source"]["ts_ms"] == 1_700_000_000_000


def test_a_reimport_of_the_same_file_has_the_same_positions(tmp_path: Path) -> None:
    path = _csv(tmp_path / "hj.csv", ROWS)
    publisher, _, decoder = _publisher()
    once = [decoder.decode(e.value) for e in prepare(path, TABLE, publisher)[0]]
    again = [decoder.decode(e.value) for e in prepare(path, TABLE, publisher)[0]]
    assert [(e["source"]["sequence"], e["source"]["ts_ms"]) for e in once] == [
        (e["source"]["sequence"], e["source"]["ts_ms"]) for e in again]


def test_an_excel_sheet_maps_dates_and_whole_numbers_to_text(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append([*ROWS[0][:4], dt.datetime(1949, 12, 31), 1, 110105, *ROWS[0][7:]])
    book.save(tmp_path / "hj.xlsx")
    publisher, _, decoder = _publisher()
    events, report = prepare(tmp_path / "hj.xlsx", TABLE, publisher)
    assert not report.bad_rows
    row = decoder.decode(events[0].value)["after"]
    assert (row["birth_date"], row["ethnicity"], row["division_code"]) == (
        "1949-12-31", "1", "110105")


def test_complete_marks_one_snapshot_run(tmp_path: Path) -> None:
    publisher, _, decoder = _publisher()
    events, _ = prepare(_csv(tmp_path / "hj.csv", ROWS), TABLE, publisher, complete=True)
    assert [decoder.decode(e.value)["source"]["snapshot"] for e in events] == ["first", "last"]


def test_a_row_without_its_key_is_reported_by_number(tmp_path: Path) -> None:
    publisher, producer, _ = _publisher()
    bad = [*ROWS, [None, *ROWS[0][1:]]]
    _, report = prepare(_csv(tmp_path / "hj.csv", bad), TABLE, publisher)
    assert [number for number, _ in report.bad_rows] == [4]
    assert producer.sent == []  # prepared, never sent


@pytest.mark.parametrize(("header", "message"), [
    ([*HEADER, "XYZ"], "unknown column(s) XYZ"),
    (HEADER[1:], "key column(s) resident_id are missing"),
])
def test_a_header_that_does_not_fit_is_one_error(tmp_path: Path, header: list[str],
                                                  message: str) -> None:
    publisher, _, _ = _publisher()
    with pytest.raises(ImportFileError, match=re.escape(message)):
        prepare(_csv(tmp_path / "hj.csv", [], header), TABLE, publisher)


def test_another_kind_of_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hj.json").write_text("{}")
    publisher, _, _ = _publisher()
    with pytest.raises(ImportFileError, match=r"not a \.csv or \.xlsx"):
        prepare(tmp_path / "hj.json", TABLE, publisher)
