"""`govbus import` on the real stack: an Excel export of the household registry's table
becomes snapshot reads; importing it again sends the same events, which the row tables take
once; a file with a bad row sends nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from openpyxl import Workbook

from govbus.wiring import topic_admin
from ops.settings import Settings
from tests.integration.sinks.harness import GOVBUS
from tests.integration.workers import namespace_env, read_topic, running_worker, wait_for
from tests.unit.connectors.test_file_import import HEADER, ROWS
from topics.catalog import catalog_for

SOURCE = "household.resident"


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _import(settings: Settings, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GOVBUS, "import", "--source", SOURCE, str(path)],
                          capture_output=True, text=True, timeout=120,
                          env=namespace_env(settings))


def test_an_excel_export_is_imported_once_however_often_it_is_sent(
    settings: Settings, tmp_path: Path
) -> None:
    catalog = catalog_for(settings)
    topic_admin(settings).apply(catalog.all)
    export = _workbook(tmp_path / "hj_resident.xlsx", ROWS)
    bad = _workbook(tmp_path / "bad.xlsx", [*ROWS, [None, *ROWS[0][1:]]])
    refused = _import(settings, bad)
    assert refused.returncode == 1 and "bad.xlsx:4:" in refused.stderr
    assert "nothing sent" in refused.stderr
    for _ in range(2):
        done = _import(settings, export)
        assert done.returncode == 0, done.stderr
        assert "imported 2 rows" in done.stdout
    assert len(read_topic(settings, catalog.raw(SOURCE).name)) == 4  # the bad file sent nothing
    log = tmp_path / "worker.log"
    with running_worker(settings, log, "--role", "raw") as worker:
        std = catalog.std(SOURCE).name
        wait_for(lambda: len(read_topic(settings, std)) == 4, 120,
                 "the four reads standardized", worker, log)
    facts = read_topic(settings, catalog.fact("individual").name)
    assert len(facts) == 2  # the second import's reads were the same rows at the same place
