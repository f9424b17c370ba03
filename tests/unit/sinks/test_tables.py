"""The theme library tables derived from the catalog, the proposed timestamp annotation, the
migration and the views, on the real embedded engine."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.columns import TIMESTAMP, UnsupportedSchemaError, record_columns
from sinks.clickhouse.ddl import TableKind, create_table_sql
from sinks.clickhouse.kanon import DEFAULT_K
from sinks.clickhouse.migration import MigrationStep, migrate
from sinks.clickhouse.sql import quote_identifier
from sinks.clickhouse.tables import (
    AUDIT_TABLE,
    FACTS_TABLE,
    QUALITY_TABLE,
    RESOURCE_CATALOG_TABLE,
    SUBSCRIPTIONS_TABLE,
    audit_table,
    entity_key_field,
    epoch_ms_expression,
    facts_table,
    profile_table,
    sink_tables,
    time_expression,
)
from sinks.clickhouse.writer import ClickHouseWriter
from sinks.message import SinkMessage
from tests.unit.sinks.samples import finding
from topics.annotations import Category
from topics.catalog import AUDIT_RETENTION_DAYS, catalog_in

CATALOG = catalog_in("unit.")


def migrated(engine: ChdbBackend, database: str, k: int = DEFAULT_K) -> list[MigrationStep]:
    return migrate(engine, database, sink_tables(CATALOG, database), k)


ENTITY_KEYS = {
    Category.INDIVIDUAL: "person_key",
    Category.ORGANIZATION: "org_key",
    Category.THING: "thing_key",
    Category.EVENT: "event_key",
}


@pytest.mark.parametrize("category", list(Category))
def test_one_profile_table_per_category(category: Category) -> None:
    table = profile_table(CATALOG, category, "lib")
    spec = table.spec
    assert spec.name == f"theme_{category}"
    assert table.topics == (CATALOG.theme(category).name,)
    assert spec.kind is TableKind.PROFILE
    assert spec.order_by == (ENTITY_KEYS[category],)
    assert spec.source_time_column == "source_ts_ms"
    sql = create_table_sql(spec)
    assert "ENGINE = ReplacingMergeTree(`version`, `is_deleted`)" in sql
    assert f"ORDER BY (`{ENTITY_KEYS[category]}`)" in sql
    assert "COMMENT '" in sql.splitlines()[-1]  # the schema's doc as the table's title
    # Arrays of records become arrays of tuples, LowCardinality inside where annotated.
    assert spec.column("links").type.sql.startswith("Array(Tuple(`relation` LowCardinality(")
    assert spec.column("is_deleted").source_field == "deleted"


def test_facts_and_quality_are_monthly_append_only_tables() -> None:
    tables = {t.spec.name: t for t in sink_tables(CATALOG, "lib")}
    assert list(tables) == [
        "theme_individual", "theme_organization", "theme_thing", "theme_event",
        FACTS_TABLE, QUALITY_TABLE, AUDIT_TABLE, SUBSCRIPTIONS_TABLE, RESOURCE_CATALOG_TABLE,
    ]
    facts = tables[FACTS_TABLE]
    assert facts.topics == tuple(CATALOG.fact(c).name for c in Category)
    assert facts.spec.kind is TableKind.EVENT
    assert facts.spec.partition_by == "toYYYYMM(fromUnixTimestamp64Milli(`source_ts_ms`, 'UTC'))"
    assert facts.spec.column("attributes").type.sql == "Map(String, Nullable(String))"
    quality = tables[QUALITY_TABLE]
    assert quality.topics == (CATALOG.quality.name,)
    assert quality.spec.partition_by == "toYYYYMM(fromUnixTimestamp64Milli(`detected_ms`, 'UTC'))"


def timestamped(schema: dict[str, Any], *fields: str) -> dict[str, Any]:
    """The schema with ``govbus.timestamp: millis`` on the named fields, nested ones too."""
    schema = copy.deepcopy(schema)

    def mark(record: dict[str, Any]) -> None:
        for f in record["fields"]:
            if f["name"] in fields:
                f[TIMESTAMP] = "millis"
            kind = f["type"]
            if isinstance(kind, dict) and kind.get("type") == "array":
                items = kind["items"]
                if isinstance(items, dict) and items.get("type") == "record":
                    mark(items)

    mark(schema)
    return schema


def test_timestamp_annotation_gives_datetime64_columns() -> None:
    schema = timestamped(CATALOG.theme(Category.INDIVIDUAL).value_schema(),  # type: ignore[misc]
                         "source_ts_ms", "updated_ms")
    columns = {item.column.name: item.column.type.sql for item in record_columns(schema).items}
    assert columns["source_ts_ms"] == "DateTime64(3, 'UTC')"
    assert columns["updated_ms"] == "DateTime64(3, 'UTC')"
    assert "`source_ts_ms` DateTime64(3, 'UTC')" in columns["candidates"]
    assert columns["version"] == "Int64"  # unannotated longs stay numbers
    assert time_expression(schema, "source_ts_ms") == "`source_ts_ms`"
    assert epoch_ms_expression(schema, "source_ts_ms") == "toUnixTimestamp64Milli(`source_ts_ms`)"
    assert epoch_ms_expression(schema, "version") == "`version`"
    assert time_expression(schema, "version") == "fromUnixTimestamp64Milli(`version`, 'UTC')"


def test_timestamp_annotation_is_checked() -> None:
    def record(field: dict[str, Any]) -> dict[str, Any]:
        return {"type": "record", "name": "R", "fields": [field]}

    nullable = record({"name": "t", "type": ["null", "long"], TIMESTAMP: "micros"})
    assert record_columns(nullable).items[0].column.type.sql == "Nullable(DateTime64(6, 'UTC'))"
    with pytest.raises(UnsupportedSchemaError, match="needs a long"):
        record_columns(record({"name": "t", "type": "string", TIMESTAMP: "millis"}))
    with pytest.raises(UnsupportedSchemaError, match="is not one of"):
        record_columns(record({"name": "t", "type": "long", TIMESTAMP: "seconds"}))


def test_epoch_ints_land_in_datetime64_columns(engine: ChdbBackend, database: str) -> None:
    schema = timestamped(CATALOG.fact(Category.INDIVIDUAL).value_schema(),  # type: ignore[misc]
                         "source_ts_ms")
    spec = facts_table(CATALOG, database, schema).spec
    assert spec.partition_by == "toYYYYMM(`source_ts_ms`)"
    writer = ClickHouseWriter(engine, spec)
    writer.prepare()
    record = {
        "fact_id": "e1/p1", "category": "individual", "entity_type": "person",
        "entity_key": "p1", "op": "assert", "source": "household.resident",
        "dept": "household", "record_key": "r1", "role": "self", "event_id": "e1",
        "sequence": "1", "source_ts_ms": 1_717_243_200_123, "attributes": {"name": "张*"},
        "links": [],
    }
    writer.add(SinkMessage("fact.individual", 0, 0, "p1", record))
    writer.flush(force=True)
    (row,) = engine.query(f"SELECT source_ts_ms FROM {spec.qualified_name}").rows
    assert row[0] == dt.datetime(2024, 6, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)


def test_entity_key_needs_exactly_one_annotated_field() -> None:
    schema = {"name": "X", "fields": [{"name": "a", "type": "string"}]}
    with pytest.raises(ValueError, match="exactly one field"):
        entity_key_field(schema)


def test_migrate_is_idempotent(engine: ChdbBackend, database: str) -> None:
    first = migrated(engine, database)
    assert {(s.name, s.action) for s in first if s.kind == "table"} == {
        (t.spec.name, "created") for t in sink_tables(CATALOG, database)
    }
    second = migrated(engine, database)
    assert {s.action for s in second if s.kind == "table"} == {"current"}
    divisions = engine.query(f"SELECT count() FROM {quote_identifier(database)}.ref_divisions")
    assert divisions.rows[0][0] > 3000  # loaded once, not twice
    assert divisions.rows == engine.query(
        f"SELECT count() FROM {quote_identifier(database)}.ref_divisions FINAL"
    ).rows
    views = engine.query(
        f"SELECT name, comment FROM system.tables WHERE database = '{database}' "
        "AND engine = 'View' ORDER BY name"
    ).rows
    assert [name for name, _ in views] == [
        "v_enterprises_by_type", "v_k_anonymity", "v_licences_by_type", "v_licences_expiring",
        "v_population_by_district", "v_quality_by_dept_dimension",
    ]
    assert dict(views)["v_population_by_district"].startswith("人口库")


def profile(category: Category, key: str, version: int = 1, **values: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        ENTITY_KEYS[category]: key, "version": version, "source_ts_ms": 1_700_000_000_000,
        "updated_ms": 1_700_000_000_000, "deleted": False, "links": [], "candidates": [],
        "sources": ["x"],
    }
    return record | values


def load(engine: ChdbBackend, database: str, category: Category, rows: list[dict[str, Any]]
         ) -> None:
    writer = ClickHouseWriter(engine, profile_table(CATALOG, category, database).spec)
    topic = CATALOG.theme(category).name
    for offset, row in enumerate(rows):
        writer.add(SinkMessage(topic, 0, offset, row[ENTITY_KEYS[category]], row))
    writer.flush(force=True)


def years_ago(years: int) -> str:
    """The birth year of someone who turns ``years`` this year."""
    return str(dt.date.today().year - years)


def test_population_view(engine: ChdbBackend, database: str) -> None:
    migrated(engine, database, k=1)  # the counts themselves; suppression is tested apart
    person = Category.INDIVIDUAL
    load(engine, database, person, [
        profile(person, "a", sex="1", birth_year=years_ago(10), district="北京市东城区"),
        profile(person, "b", sex="2", birth_year=f"{years_ago(18)}/{years_ago(17)}",
                district="北京市东城区"),
        profile(person, "c", sex="2", birth_year=years_ago(18), district="北京市东城区"),
        profile(person, "d", sex="1", birth_year=years_ago(65), district="北京市西城区"),
        profile(person, "e", sex=None, birth_year=None, district=None),
        profile(person, "f", 2, sex="1", birth_year=years_ago(40), district="北京市西城区",
                deleted=True),
    ])
    rows = engine.query(
        f"SELECT district, age_band, sex_code, sex, persons "
        f"FROM {quote_identifier(database)}.v_population_by_district"
    ).rows
    assert rows == [
        ("北京市东城区", "0-17", "1", "男", 1),
        ("北京市东城区", "0-17", "2", "女", 1),
        ("北京市东城区", "18-34", "2", "女", 1),
        ("北京市西城区", "60-79", "1", "男", 1),
        ("未知", "未知", "", "未知", 1),
    ]


def test_enterprise_view_names_the_district(engine: ChdbBackend, database: str) -> None:
    migrated(engine, database, k=1)  # the counts themselves; suppression is tested apart
    org = Category.ORGANIZATION
    load(engine, database, org, [
        profile(org, "o1", enterprise_type="有限责任公司", status="存续", division_code="110105"),
        profile(org, "o2", enterprise_type="有限责任公司", status="存续",
                division_code="110105001000"),
        profile(org, "o3", enterprise_type="个体工商户", status="注销", division_code=None),
    ])
    rows = engine.query(
        f"SELECT * EXCEPT suppressed FROM {quote_identifier(database)}.v_enterprises_by_type"
    ).rows
    assert rows == [
        ("个体工商户", "注销", "", "未知", 1),
        ("有限责任公司", "存续", "110105", "北京市朝阳区", 2),
    ]


def test_licence_views(engine: ChdbBackend, database: str) -> None:
    migrated(engine, database, k=1)  # the counts themselves; suppression is tested apart
    thing = Category.THING
    today = dt.date.today()

    def licence(key: str, days: int | None, **values: Any) -> dict[str, Any]:
        expiry = None if days is None else (today + dt.timedelta(days=days)).isoformat()
        fields = {"thing_type": "licence", "licence_type": "驾驶证", "holder_kind": "person",
                  "expiry_date": expiry}
        return profile(thing, key, **(fields | values))

    load(engine, database, thing, [
        licence("l1", 10), licence("l2", 60), licence("l3", 200), licence("l4", -5),
        licence("l5", None), licence("l6", 20, holder_kind="organization"),
        profile(thing, "v1", thing_type="vehicle", expiry_date=today.isoformat()),
    ])
    by_type = engine.query(
        f"SELECT * EXCEPT suppressed FROM {quote_identifier(database)}.v_licences_by_type"
    ).rows
    # licences, without expiry, expired, expiring within 30 / 90 days
    assert by_type == [("驾驶证", "organization", 1, 0, 0, 1, 1),
                       ("驾驶证", "person", 5, 1, 1, 1, 2)]
    expiring = engine.query(
        f"SELECT thing_key, days_left, window "
        f"FROM {quote_identifier(database)}.v_licences_expiring"
    ).rows
    assert expiring == [("l1", 10, "within_30d"), ("l6", 20, "within_30d"),
                        ("l2", 60, "within_90d")]


def test_quality_view_counts_each_finding_once(engine: ChdbBackend, database: str) -> None:
    migrated(engine, database)
    table = next(t for t in sink_tables(CATALOG, database) if t.spec.name == QUALITY_TABLE)
    writer = ClickHouseWriter(engine, table.spec)
    findings = [finding(1), finding(1), finding(2) | {"outcome": "rejected"},
                finding(3, dept="market") | {"dimension": "completeness", "outcome": "flagged"}]
    for offset, record in enumerate(findings):
        writer.add(SinkMessage(table.topics[0], 0, offset, record["finding_id"], record))
    writer.flush(force=True)
    rows = engine.query(
        f"SELECT dept, dimension, findings, rejected, repaired, flagged "
        f"FROM {quote_identifier(database)}.v_quality_by_dept_dimension"
    ).rows
    assert rows == [("household", "validity", 2, 1, 1, 0), ("market", "completeness", 1, 0, 0, 1)]


def test_the_audit_table_keeps_rows_at_least_six_months() -> None:
    spec = audit_table(CATALOG, "lib").spec
    sql = create_table_sql(spec)
    assert "TTL fromUnixTimestamp64Milli(`source_ts_ms`, 'UTC') + INTERVAL 190 DAY" in sql
    assert AUDIT_RETENTION_DAYS >= 183
