"""The k-anonymity monitor and the suppressed views on the real embedded engine (chDB)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govbus.privacy_audit import JOINED, audit_libraries, json_rows
from ops import metrics
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.kanon import KANON_REASON
from sinks.clickhouse.migration import migrate
from sinks.clickhouse.sql import quote_identifier
from sinks.clickhouse.tables import QUALITY_TABLE, facts_table, sink_tables
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.message import SinkMessage
from sinks.privacy_monitor import KAnonymityMonitor
from tests.unit.sinks.test_tables import load, profile, years_ago
from topics.annotations import Category
from topics.catalog import catalog_in

DATABASE = "kanon"
AUDITED = "audited"
PERSON = Category.INDIVIDUAL
CATALOG = catalog_in("")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbBackend]:
    backend = ChdbBackend(Path(tmp_path_factory.mktemp("chdb-kanon")))
    migrate(backend, DATABASE, sink_tables(CATALOG, DATABASE), k=5)
    yield backend
    backend.close()


def person(key: str, district: str, birth: str, version: int = 1, **more: Any) -> dict[str, Any]:
    return profile(PERSON, key, version, sex="1", birth_year=birth, ethnicity="汉族",
                   district=district, **more)


def monitor(engine: ChdbBackend, now: list[float]) -> KAnonymityMonitor:
    quality = next(t.spec for t in sink_tables(CATALOG, DATABASE) if t.spec.name == QUALITY_TABLE)
    return KAnonymityMonitor(engine, DATABASE, quality, every_s=60, clock=lambda: now[0])


def findings(engine: ChdbBackend) -> list[tuple[Any, ...]]:
    return engine.query(
        f"SELECT source, field, detail FROM {quote_identifier(DATABASE)}.{QUALITY_TABLE} "
        f"WHERE reason = '{KANON_REASON}' ORDER BY detected_ms"
    ).rows


def test_monitor_measures_the_live_library(engine: ChdbBackend) -> None:
    born = years_ago(40)
    crowd = [person(f"a{i}", "合肥市蜀山区", born) for i in range(6)]
    loners = [person("b1", "芜湖市镜湖区", born), person("b2", "芜湖市镜湖区", years_ago(41)),
              person("b3", "芜湖市镜湖区", years_ago(41))]
    load(engine, DATABASE, PERSON, [*crowd, *loners])
    now = [1_700_000_000.0]
    watch = monitor(engine, now)

    by_library = {r.library: r for r in watch.check()}

    individual = by_library["theme_individual"]
    assert individual.quasi_identifiers == ("sex", "birth_year", "ethnicity", "district")
    assert (individual.rows, individual.classes, individual.smallest_class) == (9, 3, 1)
    assert (individual.classes_below_k, individual.rows_below_k) == (2, 3)
    # A library without quasi-identifiers is one class (empty here: no class at all).
    assert by_library["theme_organization"].classes == 0
    gauge = metrics.library_small_class_rows.labels(table="theme_individual")
    assert gauge._value.get() == 3
    assert metrics.library_smallest_class_rows.labels(table="theme_individual")._value.get() == 1
    (finding,) = findings(engine)
    assert finding[0] == "theme_individual"
    assert finding[1] == "sex, birth_year, ethnicity, district"
    assert finding[2].startswith("3 of 9 rows in 2 classes smaller than k=5; smallest class 1")

    now[0] += 60
    watch.check()  # nothing changed: no second finding
    assert len(findings(engine)) == 1

    # The live library: a deleted entity leaves its class (FINAL), and the figures follow.
    load(engine, DATABASE, PERSON, [person("b1", "芜湖市镜湖区", born, 2, deleted=True)])
    now[0] += 60
    (individual,) = [r for r in watch.check() if r.library == "theme_individual"]
    assert (individual.rows, individual.rows_below_k, individual.smallest_class) == (8, 2, 2)
    assert len(findings(engine)) == 2


def test_views_suppress_small_counts(engine: ChdbBackend) -> None:
    database = "kanon_views"
    migrate(engine, database, sink_tables(CATALOG, database), k=5)
    born = years_ago(40)
    load(engine, database, PERSON, [
        *(person(f"a{i}", "合肥市蜀山区", born) for i in range(5)),
        *(person(f"b{i}", "芜湖市镜湖区", born) for i in range(4)),
    ])
    rows = engine.query(
        f"SELECT district, age_band, persons, suppressed "
        f"FROM {quote_identifier(database)}.v_population_by_district ORDER BY district"
    ).rows
    # 5 in 蜀山区 are shown; the 4 in 镜湖区 are suppressed: NULL, not the number.
    assert rows == [("合肥市蜀山区", "35-59", 5, 0), ("芜湖市镜湖区", "35-59", None, 1)]


def test_the_audit_counts_the_stored_rows_record_times_included(engine: ChdbBackend) -> None:
    """``govbus privacy audit``'s reading of the real tables: a profile whose birth year the
    facts' record times bound to days is found; a deleted profile is not read."""
    migrate(engine, AUDITED, sink_tables(CATALOG, AUDITED), k=5)
    newborn_year = dt.date.today().year
    registered = dt.datetime(newborn_year, 1, 5, tzinfo=dt.UTC)
    shown = {"id_masked": "340104************", "source_ts_ms": int(time.time() * 1000)}
    newborn = person("n1", "合肥市蜀山区", str(newborn_year), **shown)
    elder = person("e1", "合肥市蜀山区", years_ago(70), **shown)
    gone = person("g1", "合肥市蜀山区", str(newborn_year), **shown)
    load(engine, AUDITED, PERSON, [newborn, elder, gone])
    load(engine, AUDITED, PERSON, [person("g1", "合肥市蜀山区", str(newborn_year), 2,
                                           deleted=True, **shown)])
    facts = facts_table(CATALOG, AUDITED).spec
    writer = ClickHouseWriter(engine, facts)
    for offset, key in enumerate(("n1", "e1", "g1")):
        writer.add(SinkMessage(CATALOG.fact(PERSON).name, 0, offset, key, {
            "fact_id": f"f{offset}", "category": str(PERSON), "entity_type": "person",
            "entity_key": key, "op": "assert", "source": "household.resident",
            "dept": "household", "record_key": f"R{offset}", "role": "self",
            "event_id": f"e{offset}", "sequence": str(offset),
            "source_ts_ms": int(registered.timestamp() * 1000),
            "attributes": {"birth_year": None}, "links": [],
        }))
    writer.flush(force=True)

    lines = {line.published: line for line in audit_libraries(
        lambda sql: json_rows(engine.query_formatted(sql, "JSON")), CATALOG, AUDITED, 10_000,
        dt.date(newborn_year, 6, 1))}

    joined = lines[JOINED]
    assert (joined.rows, joined.below) == (2, 1)
    assert joined.fewest == 5 * 500  # born 1-5 January, one of 500 order codes of the sex
    assert lines["clickhouse theme_individual"].below == 0  # alone, a profile keeps a year
